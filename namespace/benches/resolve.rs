//! Loads a namespace of 100,000 links and measures lookups and referrals on one thread.
//!
//! Run with `cargo bench -p vsa-namespace --bench resolve`. Links are
//! `dept{i/1000}/team{i%1000}/share`, each with two or three SMB targets spread over three
//! sites; queries are random paths two levels below a link, from clients in random sites
//! (or in none).

use std::error::Error;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use vsa_namespace::{
    resolve, LinkSettings, LogicalPath, Namespace, PriorityClass, Sites, Subnet, Target,
};

const LINKS: usize = 100_000;
const QUERIES: usize = 1_000_000;
const SITES: [&str; 3] = ["paris", "lyon", "nyc"];

/// SplitMix64, for reproducible random queries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sites() -> Result<Sites, Box<dyn Error>> {
    let mut sites = Sites::new();
    for (i, name) in SITES.iter().enumerate() {
        sites.add_site(name)?;
        sites.add_subnet(name, Subnet::parse(&format!("10.{i}.0.0/16"))?)?;
    }
    sites.set_cost("paris", "lyon", 10)?;
    sites.set_cost("paris", "nyc", 100)?;
    sites.set_cost("lyon", "nyc", 110)?;
    Ok(sites)
}

fn targets(i: usize) -> Result<Vec<Target>, Box<dyn Error>> {
    let count = 2 + i % 2;
    let mut targets = Vec::with_capacity(count);
    for k in 0..count {
        let site = SITES[(i + k) % 3];
        let url = format!("smb://fs{}-{site}.corp.example/share{i}", i % 50);
        let mut target = Target::parse(&url)?.in_site(site);
        if k == 2 {
            target = target.with_priority(PriorityClass::SiteCostLow, 0);
        }
        targets.push(target);
    }
    Ok(targets)
}

fn load() -> Result<(Namespace, Duration), Box<dyn Error>> {
    let start = Instant::now();
    let mut ns = Namespace::new("corp")?;
    for i in 0..LINKS {
        let path = LogicalPath::parse(&format!("dept{}/team{}/share", i / 1000, i % 1000))?;
        ns.add_link(&path, targets(i)?, LinkSettings::default())?;
    }
    Ok((ns, start.elapsed()))
}

fn queries(rng: &mut Rng) -> Vec<String> {
    (0..LINKS)
        .map(|_| {
            let i = rng.below(LINKS);
            let (dir, file) = (rng.below(100), rng.below(1000));
            format!(
                "Dept{}/Team{}/Share/dir{dir}/file{file}.txt",
                i / 1000,
                i % 1000
            )
        })
        .collect()
}

fn client(rng: &mut Rng) -> IpAddr {
    // 10.0-2.x.x are the three sites; 10.3.x.x is in no site.
    let site = rng.below(4) as u8;
    IpAddr::V4(Ipv4Addr::new(10, site, rng.below(256) as u8, 7))
}

fn row(name: &str, count: usize, took: Duration) {
    let per_sec = count as f64 / took.as_secs_f64();
    let ns_each = took.as_nanos() as f64 / count as f64;
    println!(
        "| {name:<28} | {count:>9} | {:>9.3} s | {per_sec:>12.0} /s | {ns_each:>8.0} ns |",
        took.as_secs_f64()
    );
}

fn main() -> Result<(), Box<dyn Error>> {
    let sites = sites()?;
    let (ns, load_time) = load()?;
    let mut rng = Rng(0x5eed);
    let texts = queries(&mut rng);
    let paths = texts
        .iter()
        .map(|t| LogicalPath::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let clients: Vec<IpAddr> = (0..1024).map(|_| client(&mut rng)).collect();

    println!(
        "| {:<28} | {:>9} | {:>11} | {:>15} | {:>11} |",
        "operation", "count", "time", "rate", "per op"
    );
    println!(
        "| {:-<28} | {:->8}: | {:->10}: | {:->14}: | {:->10}: |",
        "", "", "", "", ""
    );
    row("load links (parse + add)", LINKS, load_time);

    let start = Instant::now();
    for i in 0..QUERIES {
        black_box(ns.covering_link(&paths[i % paths.len()]));
    }
    row("covering-link lookup", QUERIES, start.elapsed());

    let start = Instant::now();
    for i in 0..QUERIES {
        let client = clients[i % clients.len()];
        let referral = resolve(&ns, &paths[i % paths.len()], Some(client), &sites, i as u64)?;
        black_box(referral);
    }
    row("resolve (parsed path)", QUERIES, start.elapsed());

    let start = Instant::now();
    for i in 0..QUERIES {
        let path = LogicalPath::parse(&texts[i % texts.len()])?;
        let client = clients[i % clients.len()];
        black_box(resolve(&ns, &path, Some(client), &sites, i as u64)?);
    }
    row("parse + resolve", QUERIES, start.elapsed());

    let start = Instant::now();
    let json = serde_json::to_vec(&ns)?;
    row("save as JSON", LINKS, start.elapsed());
    let start = Instant::now();
    let back: Namespace = serde_json::from_slice(&json)?;
    row("load from JSON", LINKS, start.elapsed());
    println!(
        "\n{} links, {} MB of JSON, version {}",
        back.link_count(),
        json.len() / 1_000_000,
        back.version()
    );
    Ok(())
}
