//! The inventory's keys in the library's [`Kv`] namespace, their values, loading, and the
//! batch that turns one [`Contents`] into another (see the module doc of
//! [`crate::inventory`] for the layout).

use super::contents::{Contents, Occupant};
use super::layout::Layout;
use crate::error::{Result, VtlError};
use crate::kv::{Batch, Kv};
use crate::media::{Barcode, CartridgeInfo};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// Every inventory key starts with this.
pub(crate) const PREFIX: &[u8] = b"inv/";
const LAYOUT: &[u8] = b"inv/layout";
const CART: &str = "inv/c/";
const ELEMENT: &str = "inv/e/";

fn cart_key(b: &Barcode) -> Vec<u8> {
    format!("{CART}{b}").into_bytes()
}

fn element_key(addr: u16) -> Vec<u8> {
    format!("{ELEMENT}{addr:04X}").into_bytes()
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| VtlError::Catalog(format!("cannot encode a record: {e}")))
}

fn decode<T: DeserializeOwned>(key: &[u8], v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|e| corrupt(key, e.to_string()))
}

fn corrupt(key: &[u8], why: String) -> VtlError {
    VtlError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        why,
    }
}

/// The stored layout, if the library was created.
pub(crate) fn load_layout(kv: &dyn Kv) -> Result<Option<Layout>> {
    kv.get(LAYOUT)?.map(|v| decode(LAYOUT, &v)).transpose()
}

/// The batch that creates an empty library.
pub(crate) fn create(layout: &Layout) -> Result<Batch> {
    let mut b = Batch::default();
    b.put(LAYOUT, encode(layout)?);
    Ok(b)
}

/// Loads cartridges and elements and checks them against each other and `layout`.
pub(crate) fn load(kv: &dyn Kv, layout: Layout) -> Result<Contents> {
    let mut c = Contents::new(layout);
    for (k, v) in kv.scan(CART.as_bytes())? {
        let cart: CartridgeInfo = decode(&k, &v)?;
        if cart_key(&cart.barcode) != k {
            return Err(corrupt(&k, format!("holds cartridge {}", cart.barcode)));
        }
        c.carts.insert(cart.barcode.clone(), cart);
    }
    for (k, v) in kv.scan(ELEMENT.as_bytes())? {
        let addr = std::str::from_utf8(&k[ELEMENT.len()..])
            .ok()
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .ok_or_else(|| corrupt(&k, "not an element address".into()))?;
        let occ: Occupant = decode(&k, &v)?;
        c.elements.insert(addr, occ);
    }
    c.check().map_err(|why| corrupt(PREFIX, why))?;
    Ok(c)
}

/// Puts and deletes of the keys whose values differ between `old` and `new`.
fn diff<K: Ord, V: PartialEq + Serialize>(
    b: &mut Batch,
    old: &BTreeMap<K, V>,
    new: &BTreeMap<K, V>,
    key: impl Fn(&K) -> Vec<u8>,
) -> Result<()> {
    for k in old.keys().filter(|k| !new.contains_key(k)) {
        b.delete(key(k));
    }
    for (k, v) in new {
        if old.get(k) != Some(v) {
            b.put(key(k), encode(v)?);
        }
    }
    Ok(())
}

/// The one batch that turns the stored `old` into `new`.
pub(crate) fn changes(old: &Contents, new: &Contents) -> Result<Batch> {
    let mut b = Batch::default();
    diff(&mut b, &old.carts, &new.carts, cart_key)?;
    diff(&mut b, &old.elements, &new.elements, |a| element_key(*a))?;
    Ok(b)
}
