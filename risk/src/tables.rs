//! The engine's two large lookup tables, built for a working set of a million orders across 10,000 accounts:
//! [`Books`] (per (account, symbol) book) and [`ClOrdIndex`] (client order id to order). Each keeps a hash
//! table of 4-byte indexes (hashbrown's `HashTable`, 5 bytes a slot with its control byte) and the data in
//! arrays it already has: books in an arena in creation order, orders in the engine's order table. The tables
//! stay a few MiB where a map holding keys and values inline took hundreds (every slot of the (account, symbol)
//! map carried a whole book), so probes mostly hit the cache and the TLB. A key is compared only when the
//! slot's 7-bit tag matches, by reading the arena or the order it points to.

use crate::engine::Book;
use bulwark_model::{AccountId, ClOrdId, Order, OrderId, SymbolId};
use hashbrown::HashTable;
use std::hash::BuildHasher;

type BookKey = (AccountId, SymbolId);

fn book_hash(key: &BookKey) -> u64 {
    rustc_hash::FxBuildHasher.hash_one((key.0 .0, key.1 .0))
}

fn cl_ord_hash(account: AccountId, cl: &ClOrdId) -> u64 {
    rustc_hash::FxBuildHasher.hash_one((account.0, cl.as_bytes()))
}

/// An empty index table with room for `capacity` entries whose memory has been written once (filled with
/// spread-out placeholders, then cleared: clearing keeps the allocation).
fn prefaulted_index(capacity: usize) -> HashTable<u32> {
    let mut index = HashTable::with_capacity(capacity);
    for i in 0..capacity as u32 {
        index.insert_unique(u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15), i, |_| 0);
    }
    index.clear();
    index
}

/// Per (account, symbol) books: an index table over an arena in creation order. Books are never removed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Books {
    index: HashTable<u32>,
    arena: Vec<(BookKey, Book)>,
}

impl Books {
    /// Room for `capacity` books, with the memory of both parts touched once so that the first books after
    /// start take no page faults on the sequencer thread.
    pub(crate) fn with_capacity(capacity: usize) -> Books {
        let index = prefaulted_index(capacity);
        let mut arena = Vec::with_capacity(capacity);
        arena.resize(capacity, ((AccountId(0), SymbolId(0)), Book::default()));
        arena.clear();
        Books { index, arena }
    }

    fn find(&self, key: &BookKey) -> Option<usize> {
        let arena = &self.arena;
        self.index
            .find(book_hash(key), |&i| arena[i as usize].0 == *key)
            .map(|&i| i as usize)
    }

    pub(crate) fn get(&self, key: &BookKey) -> Option<&Book> {
        self.find(key).map(|i| &self.arena[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &BookKey) -> Option<&mut Book> {
        self.find(key).map(|i| &mut self.arena[i].1)
    }

    /// The book of `key`, made empty if it did not exist; `true` when it was made now.
    pub(crate) fn get_or_insert(&mut self, key: BookKey) -> (&mut Book, bool) {
        let hash = book_hash(&key);
        let arena = &self.arena;
        let (i, new) = match self.index.find(hash, |&i| arena[i as usize].0 == key) {
            Some(&i) => (i as usize, false),
            None => {
                let i = self.arena.len();
                let index = u32::try_from(i).expect("fewer than 2^32 books");
                let arena = &self.arena;
                self.index
                    .insert_unique(hash, index, |&j| book_hash(&arena[j as usize].0));
                self.arena.push((key, Book::default()));
                (i, true)
            }
        };
        (&mut self.arena[i].1, new)
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

/// Client order id (per account) to order: an index table over the engine's order table, whose orders carry
/// the key. The order an entry points to must keep its account and client order id while indexed (a replace
/// removes the entry, changes the id, and inserts it again).
#[derive(Clone, Debug, Default)]
pub(crate) struct ClOrdIndex {
    index: HashTable<u32>,
}

fn order_at(orders: &[Order], i: u32) -> &Order {
    &orders[i as usize]
}

impl ClOrdIndex {
    /// Room for `capacity` entries, touched once (see [`Books::with_capacity`]).
    pub(crate) fn with_capacity(capacity: usize) -> ClOrdIndex {
        ClOrdIndex {
            index: prefaulted_index(capacity),
        }
    }

    pub(crate) fn find(
        &self,
        orders: &[Order],
        account: AccountId,
        cl: &ClOrdId,
    ) -> Option<OrderId> {
        self.index
            .find(cl_ord_hash(account, cl), |&i| {
                let o = order_at(orders, i);
                o.account == account && o.cl_ord_id == *cl
            })
            .map(|&i| OrderId(u64::from(i) + 1))
    }

    /// Indexes order `id` under its account and client order id (the caller has checked it is not indexed).
    pub(crate) fn insert(&mut self, orders: &[Order], id: OrderId) {
        let i = u32::try_from(id.0 - 1).expect("fewer than 2^32 orders");
        let o = order_at(orders, i);
        self.index
            .insert_unique(cl_ord_hash(o.account, &o.cl_ord_id), i, |&j| {
                let o = order_at(orders, j);
                cl_ord_hash(o.account, &o.cl_ord_id)
            });
    }

    /// Removes the entry of `account`'s `cl`, if any.
    pub(crate) fn remove(&mut self, orders: &[Order], account: AccountId, cl: &ClOrdId) {
        if let Ok(e) = self.index.find_entry(cl_ord_hash(account, cl), |&i| {
            let o = order_at(orders, i);
            o.account == account && o.cl_ord_id == *cl
        }) {
            e.remove();
        }
    }

    /// Keeps the entries whose order `keep` accepts.
    pub(crate) fn retain(&mut self, orders: &[Order], mut keep: impl FnMut(&Order) -> bool) {
        self.index.retain(|&mut i| keep(order_at(orders, i)));
    }

    fn sorted(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.index.iter().copied().collect();
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
