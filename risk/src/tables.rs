//! The engine's two large lookup tables, built for a working set of a million orders across 10,000 accounts:
//! [`Books`] (per (account, symbol) book) and [`ClOrdIndex`] (client order id to order). Each is an
//! [`IndexTable`] of 8-byte slots (a 32-bit hash tag and a 32-bit index) over arrays the engine already has:
//! books in an arena in creation order, orders in the engine's order table. The tables stay a few MiB where a
//! map holding keys and values inline took hundreds (every slot of the (account, symbol) map carried a whole
//! book), so probes mostly hit the cache and the TLB; a key is compared only when a slot's tag matches. Because
//! a key's first slot is plain arithmetic on its hash, the engine can ask the CPU for it ahead of time
//! ([`IndexTable::prefetch`]): the sequencer does so for the orders queued behind the one it applies.

use crate::engine::Book;
use bulwark_model::{AccountId, ClOrdId, Order, OrderId, SymbolId};
use std::hash::BuildHasher;

type BookKey = (AccountId, SymbolId);

/// The finalizer of MurmurHash3: every input bit reaches every output bit, so the high half (the tag and the
/// home slot) is as good as the low half.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

pub(crate) fn book_hash(key: &BookKey) -> u64 {
    mix((u64::from(key.0 .0) << 32) | u64::from(key.1 .0))
}

pub(crate) fn cl_ord_hash(account: AccountId, cl: &ClOrdId) -> u64 {
    mix(rustc_hash::FxBuildHasher.hash_one((account.0, cl.as_bytes())))
}

/// Asks the CPU to bring the cache line holding `p` closer. Never faults, changes nothing.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect and does not fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Open addressing with linear probing over a power-of-two number of slots, at most half full. A slot is 0
/// (empty) or `tag << 32 | (index + 1)`, with `tag` the high half of the key's hash; the home slot is the tag
/// modulo the slot count. Keys live outside, reached through the index; removal shifts the entries after the
/// hole back, so there are no tombstones.
#[derive(Clone, Debug)]
pub(crate) struct IndexTable {
    slots: Vec<u64>,
    len: usize,
}

/// `n` zero slots, written: `vec![0; n]` would take fresh zero pages from the kernel, and each would fault on the
/// first insert that lands in it, on the sequencer thread.
#[allow(clippy::slow_vector_initialization)]
fn written_zeros(n: usize) -> Vec<u64> {
    let mut slots = Vec::with_capacity(n);
    slots.resize(n, 0);
    slots
}

fn tag_of(hash: u64) -> u64 {
    hash >> 32
}

impl IndexTable {
    /// Room for `capacity` entries without growing; the slots are written once now (zeros), so the first
    /// entries after start take no page faults.
    pub(crate) fn with_capacity(capacity: usize) -> IndexTable {
        IndexTable {
            slots: written_zeros((capacity.max(4) * 2).next_power_of_two()),
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, tag: u64) -> usize {
        tag as usize & self.mask()
    }

    /// Asks the CPU for the home slot of `hash`.
    pub(crate) fn prefetch(&self, hash: u64) {
        prefetch(self.slots.as_ptr().wrapping_add(self.home(tag_of(hash))));
    }

    /// The slot holding the index for which `is_key` holds, among the entries tagged like `hash`.
    fn position(&self, hash: u64, is_key: impl Fn(u32) -> bool) -> Option<usize> {
        let tag = tag_of(hash);
        let mut pos = self.home(tag);
        loop {
            let slot = self.slots[pos];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == tag && is_key((slot as u32) - 1) {
                return Some(pos);
            }
            pos = (pos + 1) & self.mask();
        }
    }

    pub(crate) fn find(&self, hash: u64, is_key: impl Fn(u32) -> bool) -> Option<u32> {
        self.position(hash, is_key)
            .map(|pos| (self.slots[pos] as u32) - 1)
    }

    /// Adds `index` under `hash` (the caller has checked that its key is absent). `hash_of` gives the hash of
    /// any index already in the table, for when the table grows.
    pub(crate) fn insert(&mut self, hash: u64, index: u32, hash_of: impl Fn(u32) -> u64) {
        assert!(index < u32::MAX, "fewer than 2^32 - 1 entries");
        if (self.len + 1) * 2 > self.slots.len() {
            let grown = written_zeros(self.slots.len() * 2);
            let old = std::mem::replace(&mut self.slots, grown);
            self.len = 0;
            for slot in old.into_iter().filter(|s| *s != 0) {
                let i = (slot as u32) - 1;
                self.place(hash_of(i), i);
            }
        }
        self.place(hash, index);
    }

    fn place(&mut self, hash: u64, index: u32) {
        let tag = tag_of(hash);
        let mut pos = self.home(tag);
        while self.slots[pos] != 0 {
            pos = (pos + 1) & self.mask();
        }
        self.slots[pos] = (tag << 32) | u64::from(index + 1);
        self.len += 1;
    }

    /// Removes the entry for which `is_key` holds, if any; returns whether there was one.
    pub(crate) fn remove(&mut self, hash: u64, is_key: impl Fn(u32) -> bool) -> bool {
        let Some(mut hole) = self.position(hash, is_key) else {
            return false;
        };
        // Backward shift: move each following entry of the run into the hole unless that would put it before
        // its home slot.
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot == 0 {
                break;
            }
            let home = self.home(slot >> 32);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }

    /// Keeps the indexes `keep` accepts (rebuilds the slots: for rare, bulk removals).
    pub(crate) fn retain(&mut self, keep: impl Fn(u32) -> bool, hash_of: impl Fn(u32) -> u64) {
        let kept: Vec<u32> = self.iter().filter(|&i| keep(i)).collect();
        self.slots.iter_mut().for_each(|s| *s = 0);
        self.len = 0;
        for i in kept {
            self.place(hash_of(i), i);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .filter(|s| **s != 0)
            .map(|s| (*s as u32) - 1)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Per (account, symbol) books: an index table over an arena in creation order. Books are never removed.
#[derive(Clone, Debug)]
pub(crate) struct Books {
    index: IndexTable,
    arena: Vec<(BookKey, Book)>,
}

impl Books {
    /// Room for `capacity` books, with the memory of both parts touched once so that the first books after
    /// start take no page faults on the sequencer thread.
    pub(crate) fn with_capacity(capacity: usize) -> Books {
        let mut arena = Vec::with_capacity(capacity);
        arena.resize(capacity, ((AccountId(0), SymbolId(0)), Book::default()));
        arena.clear();
        Books {
            index: IndexTable::with_capacity(capacity),
            arena,
        }
    }

    fn find(&self, key: &BookKey) -> Option<usize> {
        let arena = &self.arena;
        self.index
            .find(book_hash(key), |i| arena[i as usize].0 == *key)
            .map(|i| i as usize)
    }

    pub(crate) fn get(&self, key: &BookKey) -> Option<&Book> {
        self.find(key).map(|i| &self.arena[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &BookKey) -> Option<&mut Book> {
        self.find(key).map(|i| &mut self.arena[i].1)
    }

    /// The book of `key`, made empty if it did not exist; `true` when it was made now.
    pub(crate) fn get_or_insert(&mut self, key: BookKey) -> (&mut Book, bool) {
        let i = match self.find(&key) {
            Some(i) => return (&mut self.arena[i].1, false),
            None => self.arena.len(),
        };
        let index = u32::try_from(i).expect("fewer than 2^32 books");
        let arena = &self.arena;
        self.index
            .insert(book_hash(&key), index, |j| book_hash(&arena[j as usize].0));
        self.arena.push((key, Book::default()));
        (&mut self.arena[i].1, true)
    }

    /// Asks the CPU for `key`'s home slot.
    pub(crate) fn prefetch_slot(&self, key: &BookKey) {
        self.index.prefetch(book_hash(key));
    }

    /// Asks the CPU for the book of the first slot tagged like `key` (a hint: the key is not compared, which
    /// would read the very line being asked for; the slot should be in cache by now).
    pub(crate) fn prefetch_book(&self, key: &BookKey) {
        if let Some(i) = self.index.find(book_hash(key), |_| true) {
            prefetch(&self.arena[i as usize]);
        }
    }

    /// Every book with its key, in creation order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&BookKey, &Book)> {
        self.arena.iter().map(|(k, b)| (k, b))
    }

    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }
}

/// Equal when they hold the same books under the same keys, whatever the order they were made in.
impl PartialEq for Books {
    fn eq(&self, other: &Books) -> bool {
        self.len() == other.len() && self.iter().all(|(k, b)| other.get(k) == Some(b))
    }
}

/// Client order id to order, per client-order-id space: an index table over the engine's order table, whose
/// orders carry the key. A space is one account, or the accounts of one FIX session, which share one (FIX asks
/// ClOrdIDs to be unique per session): `scope` maps each account to the first account of its space. The order an
/// entry points to must keep its account and client order id while indexed (a replace removes the entry,
/// changes the id, and inserts it again).
#[derive(Clone, Debug)]
pub(crate) struct ClOrdIndex {
    index: IndexTable,
    /// `None` when every account is its own space: no lookup on the hot path then.
    scope: Option<Vec<AccountId>>,
}

/// The space of `account` under `scope` (see [`ClOrdIndex`]).
#[inline]
fn space_in(scope: Option<&[AccountId]>, account: AccountId) -> AccountId {
    match scope {
        None => account,
        Some(s) => s.get(account.0 as usize).copied().unwrap_or(account),
    }
}

/// An indexed order's hash, from the order itself (for the table's moves).
fn order_hash<'a>(orders: &'a [Order], scope: Option<&'a [AccountId]>) -> impl Fn(u32) -> u64 + 'a {
    move |i| {
        let o = &orders[i as usize];
        cl_ord_hash(space_in(scope, o.account), &o.cl_ord_id)
    }
}

impl ClOrdIndex {
    /// Room for `capacity` entries, touched once (see [`IndexTable::with_capacity`]); `scope[a]` is the space
    /// of account `a` (see [`ClOrdIndex`]).
    pub(crate) fn with_capacity(capacity: usize, scope: Vec<AccountId>) -> ClOrdIndex {
        let shared = scope.iter().enumerate().any(|(i, a)| a.0 as usize != i);
        ClOrdIndex {
            index: IndexTable::with_capacity(capacity),
            scope: shared.then_some(scope),
        }
    }

    /// The client-order-id space of `account` (an account the table does not know is its own space).
    #[inline]
    fn space(&self, account: AccountId) -> AccountId {
        space_in(self.scope.as_deref(), account)
    }

    fn hash_of(&self, account: AccountId, cl: &ClOrdId) -> u64 {
        cl_ord_hash(self.space(account), cl)
    }

    /// The indexed order with `cl` in `account`'s space, whichever account of the space it belongs to.
    pub(crate) fn find_in_space(
        &self,
        orders: &[Order],
        account: AccountId,
        cl: &ClOrdId,
    ) -> Option<OrderId> {
        let space = self.space(account);
        let cl = *cl;
        self.index
            .find(cl_ord_hash(space, &cl), |i| {
                let o = &orders[i as usize];
                o.cl_ord_id == cl && self.space(o.account) == space
            })
            .map(|i| OrderId(u64::from(i) + 1))
    }

    /// The indexed order of `account` with `cl`.
    pub(crate) fn find(
        &self,
        orders: &[Order],
        account: AccountId,
        cl: &ClOrdId,
    ) -> Option<OrderId> {
        self.find_in_space(orders, account, cl)
            .filter(|id| orders[(id.0 - 1) as usize].account == account)
    }

    /// Indexes order `id` under its space and client order id (the caller has checked it is not indexed).
    pub(crate) fn insert(&mut self, orders: &[Order], id: OrderId) {
        let i = u32::try_from(id.0 - 1).expect("fewer than 2^32 orders");
        let hash = order_hash(orders, self.scope.as_deref());
        self.index.insert(hash(i), i, hash);
    }

    /// Removes the entry of `account`'s `cl`, if any.
    pub(crate) fn remove(&mut self, orders: &[Order], account: AccountId, cl: &ClOrdId) {
        let hash = self.hash_of(account, cl);
        let cl = *cl;
        self.index.remove(hash, |i| {
            let o = &orders[i as usize];
            o.account == account && o.cl_ord_id == cl
        });
    }

    /// Keeps the entries whose order `keep` accepts.
    pub(crate) fn retain(&mut self, orders: &[Order], keep: impl Fn(&Order) -> bool) {
        let scope = self.scope.as_deref();
        self.index
            .retain(|i| keep(&orders[i as usize]), order_hash(orders, scope));
    }

    /// Asks the CPU for the home slot of `account`'s `cl`.
    pub(crate) fn prefetch(&self, account: AccountId, cl: &ClOrdId) {
        self.index.prefetch(self.hash_of(account, cl));
    }

    fn sorted(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.index.iter().collect();
        v.sort_unstable();
        v
    }
}

/// Equal when they index the same orders.
impl PartialEq for ClOrdIndex {
    fn eq(&self, other: &ClOrdIndex) -> bool {
        self.index.len() == other.index.len() && self.sorted() == other.sorted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random inserts, finds and removes against a `BTreeMap`, in a small table that grows several times and
    /// whose keys share home slots (so that removal's backward shift is exercised across wrap-around).
    #[test]
    fn the_index_table_agrees_with_an_ordered_map_through_inserts_growth_and_removals() {
        let keys: Vec<u64> = (0..4_000u64).collect();
        // Few distinct home bits: many keys per run.
        let hash = |k: u64| mix(k % 700) ^ (k << 40);
        let mut table = IndexTable::with_capacity(4);
        let mut model: BTreeMap<u64, ()> = BTreeMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for step in 0..60_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = keys[(x % keys.len() as u64) as usize];
            let found = table.find(hash(k), |i| u64::from(i) == k).is_some();
            assert_eq!(found, model.contains_key(&k), "step {step}: find {k}");
            if x & 3 == 0 {
                assert_eq!(table.remove(hash(k), |i| u64::from(i) == k), found);
                model.remove(&k);
            } else if !found {
                table.insert(hash(k), k as u32, |i| hash(u64::from(i)));
                model.insert(k, ());
            }
            assert_eq!(table.len(), model.len());
        }
        let mut all: Vec<u64> = table.iter().map(u64::from).collect();
        all.sort_unstable();
        assert_eq!(all, model.keys().copied().collect::<Vec<_>>());
        table.retain(|i| i % 2 == 0, |i| hash(u64::from(i)));
        for k in model.keys() {
            let found = table.find(hash(*k), |i| u64::from(i) == *k).is_some();
            assert_eq!(found, k % 2 == 0, "after retain: {k}");
        }
    }
}
