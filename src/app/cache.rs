//! The three shapes of in-memory cache the application keeps, so that no use case locks by hand: a value kept
//! for a while and recomputed when it expires or its key moves on ([`Expiring`]), a map bounded in size that
//! drops its smallest keys first ([`BoundedMap`], keyed by epoch so the oldest go), and a bounded set of keys
//! seen until a deadline ([`SeenUntil`]). They lock only to clone, swap or insert; the locks never poison.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

/// One value computed for a key at a time (Unix ms), served until `ttl_ms` has passed or the key changes.
pub struct Expiring<K, V> {
    ttl_ms: i64,
    slot: Mutex<Option<(K, i64, Arc<V>)>>,
}

impl<K: PartialEq + Clone, V> Expiring<K, V> {
    pub fn new(ttl_ms: i64) -> Self {
        Expiring { ttl_ms, slot: Mutex::new(None) }
    }

    /// The cached value for `key`, if it was stored less than the TTL before `now_ms`.
    pub fn get(&self, key: &K, now_ms: i64) -> Option<Arc<V>> {
        let slot = self.slot.lock();
        slot.as_ref().filter(|(k, at, _)| k == key && now_ms - at < self.ttl_ms).map(|(_, _, value)| value.clone())
    }

    pub fn put(&self, key: K, now_ms: i64, value: Arc<V>) {
        *self.slot.lock() = Some((key, now_ms, value));
    }
}

/// At most `capacity` entries; inserting beyond that drops the smallest keys.
pub struct BoundedMap<K, V> {
    capacity: usize,
    entries: Mutex<BTreeMap<K, V>>,
}

impl<K: Ord, V: Clone> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        BoundedMap { capacity: capacity.max(1), entries: Mutex::new(BTreeMap::new()) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.entries.lock().get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock();
        entries.insert(key, value);
        while entries.len() > self.capacity {
            entries.pop_first();
        }
    }
}

/// Keys seen, each until its deadline (Unix ms), at most `capacity` at once.
pub struct SeenUntil {
    capacity: usize,
    entries: Mutex<HashMap<String, i64>>,
}

impl SeenUntil {
    pub fn new(capacity: usize) -> Self {
        SeenUntil { capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// Remembers `key` until `until_ms`; `false` when it was already remembered at `now_ms`. When full of live
    /// keys the new one is not remembered (and `true` returned): the caller's next check decides alone.
    pub fn insert(&self, key: String, until_ms: i64, now_ms: i64) -> bool {
        let mut entries = self.entries.lock();
        if entries.get(&key).is_some_and(|&until| until >= now_ms) {
            return false;
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, until| *until >= now_ms);
        }
        if entries.len() < self.capacity {
            entries.insert(key, until_ms);
        }
        true
    }

    /// Forgets the keys whose deadline passed before `now_ms`.
    pub fn forget_before(&self, now_ms: i64) {
        let mut entries = self.entries.lock();
        entries.retain(|_, until| *until >= now_ms);
        entries.shrink_to_fit();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiring_values_follow_their_key_and_age() {
        let cache = Expiring::new(1_000);
        cache.put("a", 10_000, Arc::new(1));
        assert_eq!(cache.get(&"a", 10_999).as_deref(), Some(&1));
        assert_eq!(cache.get(&"a", 11_000), None, "expired");
        assert_eq!(cache.get(&"b", 10_500), None, "another key");
    }

    #[test]
    fn bounded_maps_drop_the_smallest_keys() {
        let map = BoundedMap::new(2);
        for n in [3, 1, 2] {
            map.insert(n, n * 10);
        }
        assert_eq!(map.get(&1), None);
        assert_eq!(map.get(&2), Some(20));
        assert_eq!(map.get(&3), Some(30));
    }

    #[test]
    fn seen_keys_are_refused_until_their_deadline_and_the_set_stays_bounded() {
        let seen = SeenUntil::new(2);
        assert!(seen.insert("a".into(), 1_000, 0));
        assert!(!seen.insert("a".into(), 1_000, 500), "seen");
        assert!(seen.insert("a".into(), 2_000, 1_001), "past its deadline");
        assert!(seen.insert("b".into(), 2_000, 1_001));
        assert!(seen.insert("c".into(), 2_000, 1_001), "full: not remembered, left to the caller");
        assert!(seen.insert("c".into(), 2_000, 1_001));
        assert_eq!(seen.len(), 2);
        seen.forget_before(2_001);
        assert_eq!(seen.len(), 0);
    }
}
