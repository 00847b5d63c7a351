//! The health probes' side of the service: which targets to check, recording a check's
//! result (hysteresis, storing a change, the event), and the events.

use super::*;

/// ` (N good checks in a row)`, nothing for one check.
fn in_a_row(n: u32, what: &str) -> String {
    if n > 1 {
        format!(" ({n} {what} checks in a row)")
    } else {
        String::new()
    }
}

impl Namespaces {
    /// Every target of every namespace, for the health probes. Forgets the runs of check
    /// results and change times of targets that are gone.
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        let list: Vec<ProbeTarget> = {
            let state = self.state.read();
            state
                .namespaces
                .iter()
                .flat_map(|(key, ns)| {
                    ns.links().flat_map(move |l| {
                        l.targets().iter().map(move |t| ProbeTarget {
                            key: TargetKey::of(key, l.path(), &t.url),
                            link: l.path().clone(),
                            url: t.url.clone(),
                        })
                    })
                })
                .collect()
        };
        let live: HashSet<&TargetKey> = list.iter().map(|t| &t.key).collect();
        let stale = self.state.read().since.keys().any(|k| !live.contains(k));
        if stale {
            self.state.write().since.retain(|k, _| live.contains(k));
        }
        self.streaks.lock().retain(|k, _| live.contains(k));
        list
    }

    /// Counts one check of a target: its result `Ok(what answered)` or `Err(why not)`.
    /// When this check decides a new health (`th`), stores it, keeps an event and logs it.
    /// `None` if the target is gone.
    pub fn record_probe(
        &self,
        t: &ProbeTarget,
        result: &std::result::Result<String, String>,
        th: Thresholds,
    ) -> Result<Option<ProbeOutcome>> {
        let mut state = self.state.write();
        let Some(ns) = state.namespaces.get(&t.key.ns) else {
            return Ok(None);
        };
        let Some(from) = ns.link(&t.link).and_then(|l| l.target(&t.url)) else {
            return Ok(None);
        };
        let from = from.health;
        let mut outcome = ProbeOutcome {
            namespace: ns.root().to_owned(),
            failed: result.is_err(),
            changed: false,
        };
        let verdict = self
            .streaks
            .lock()
            .entry(t.key.clone())
            .or_default()
            .observe(from, result.is_ok(), th);
        let Some(to) = verdict else {
            return Ok(Some(outcome));
        };
        let mut changed = ns.clone();
        changed.set_health(&t.link, &t.url, to)?;
        self.persist(&[(ns_key(&t.key.ns), MetaStore::encode(&changed))], &[])?;
        reexport(&state, &t.key.ns, &changed);
        state.namespaces.insert(t.key.ns.clone(), changed);
        let at = now();
        state.since.insert(t.key.clone(), at);
        let reason = match result {
            Ok(what) => format!("{what}{}", in_a_row(th.healthy_after, "good")),
            Err(why) => format!("{why}{}", in_a_row(th.unhealthy_after, "failed")),
        };
        let e = self.events.lock().push(HealthEventView {
            seq: 0,
            at,
            namespace: outcome.namespace.clone(),
            link: t.link.to_string(),
            target: t.url.to_string(),
            from: kebab(&from),
            to: kebab(&to),
            reason,
        });
        let text = format!(
            "target {} of link {} in namespace {} is now {} (was {}): {}",
            e.target, e.link, e.namespace, e.to, e.from, e.reason
        );
        if to == Health::Unhealthy {
            tracing::warn!(
                namespace = e.namespace,
                link = e.link,
                target = e.target,
                "{text}"
            );
        } else {
            tracing::info!(
                namespace = e.namespace,
                link = e.link,
                target = e.target,
                "{text}"
            );
        }
        outcome.changed = true;
        Ok(Some(outcome))
    }

    /// The last health changes, oldest first; those of namespace `name` only if given (a
    /// namespace that no longer exists still has its events).
    pub fn events(&self, name: Option<&str>) -> Result<Vec<HealthEventView>> {
        let Some(name) = name else {
            return Ok(self.events.lock().list(|_| true));
        };
        let key = ns_key_of(name)?;
        let list = self
            .events
            .lock()
            .list(|e| ns_key_of(&e.namespace).is_ok_and(|k| k == key));
        if list.is_empty() && !self.state.read().namespaces.contains_key(&key) {
            return Err(NsError::NoSuchNamespace(name.to_owned()));
        }
        Ok(list)
    }
}
