//! Fractional indexes: the `position` keys that order a playlist's items.
//!
//! A key is a string of base-62 digits (`0-9A-Za-z`, in ASCII order) read as a fraction in (0, 1):
//! `"V"` is 31/62, `"V8"` is 31/62 + 8/62². Keys never end in `0` (so a key is never a proper
//! prefix of an equal value, and there is always room between two keys), and then byte order is
//! numeric order: the server, SQLite (BINARY) and PostgreSQL (`COLLATE "C"`) sort them the same.
//!
//! [`between`] makes a key strictly between two neighbours (either may be missing: the ends), so
//! an insert or a move writes one row and never renumbers the others, as Figma's and Linear's
//! ordering keys do. At the ends it steps one digit (`"V"`, `"W"`, ... `"z"`, `"zW"`): 500
//! appends or 500 inserts at the front take keys of at most ~10 characters. Between two keys it
//! takes the shortest key near their midpoint, so inserting again and again at one spot inside the
//! list grows keys by one character per ~5 inserts there (the price of never renumbering); the
//! playlist's item cap bounds that.

use std::cmp::Ordering;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOP: u8 = 61;
/// The key of the first item of an empty list (the middle of the range).
const MIDDLE: u8 = 31;

/// A neighbour that is not a key this module made, or neighbours out of order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("malformed position key {0:?}")]
    Malformed(String),
    #[error("position keys out of order: {0:?} is not before {1:?}")]
    Unordered(String, String),
}

/// A key strictly between `lo` and `hi` (`None`: the start or the end of the list).
pub fn between(lo: Option<&str>, hi: Option<&str>) -> Result<String, PositionError> {
    let lo = lo.map(digits).transpose()?;
    let hi = hi.map(digits).transpose()?;
    let key = match (&lo, &hi) {
        (None, None) => vec![MIDDLE],
        (Some(lo), None) => append(lo),
        (None, Some(hi)) => prepend(hi),
        (Some(lo), Some(hi)) => {
            if lo.cmp(hi) != Ordering::Less {
                return Err(PositionError::Unordered(text(lo), text(hi)));
            }
            midpoint(lo, hi)
        }
    };
    Ok(text(&key))
}

/// Whether `key` is a well-formed key.
pub fn is_valid(key: &str) -> bool {
    digits(key).is_ok()
}

fn digits(key: &str) -> Result<Vec<u8>, PositionError> {
    let malformed = || PositionError::Malformed(key.to_owned());
    let out = key
        .bytes()
        .map(|c| DIGITS.iter().position(|d| *d == c).map(|i| i as u8))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    match out.last() {
        Some(0) | None => Err(malformed()),
        Some(_) => Ok(out),
    }
}

fn text(digits: &[u8]) -> String {
    digits.iter().map(|d| DIGITS[*d as usize] as char).collect()
}

/// A key above `lo` (digits of a fraction, maybe empty for 0): the next first digit, or the top
/// digit and a key above the rest (from `1` up, so each extra digit holds 61 more appends).
fn append(lo: &[u8]) -> Vec<u8> {
    match lo.split_first() {
        None => vec![1],
        Some((&a, _)) if a < TOP => vec![a + 1],
        Some((_, rest)) => {
            let mut out = vec![TOP];
            out.extend(append(rest));
            out
        }
    }
}

/// A key below `hi` (a valid key): its first digit alone when that is smaller, else one less,
/// else a `0` and a key below the rest.
fn prepend(hi: &[u8]) -> Vec<u8> {
    match hi.split_first() {
        Some((&b, rest)) if b > 0 && !rest.is_empty() => vec![b],
        Some((&b, _)) if b > 1 => vec![b - 1],
        Some((&1, _)) => vec![0, TOP],
        Some((_, rest)) => {
            let mut out = vec![0];
            out.extend(prepend(rest));
            out
        }
        // Valid keys are not empty; the smallest key above nothing is any key.
        None => vec![MIDDLE],
    }
}

/// A key strictly between `lo` (maybe empty: 0) and `hi` (a valid key above `lo`).
fn midpoint(lo: &[u8], hi: &[u8]) -> Vec<u8> {
    let at = |i: usize| lo.get(i).copied().unwrap_or(0);
    // The common prefix (`lo` read with trailing zeros) is kept as it is.
    let n = (0..hi.len()).take_while(|&i| at(i) == hi[i]).count();
    if n == hi.len() {
        // Only when `lo` >= `hi`, which callers rule out; stay above `lo`.
        return append(lo);
    }
    if n > 0 {
        let mut out = hi[..n].to_vec();
        out.extend(midpoint(lo.get(n..).unwrap_or(&[]), &hi[n..]));
        return out;
    }
    let (a, b) = (at(0), hi[0]);
    if b - a > 1 {
        return vec![(a + b) / 2];
    }
    if hi.len() > 1 {
        // `hi`'s first digit alone is below `hi` and above everything starting with `a`.
        return vec![b];
    }
    // `hi` is `a + 1`: keep `a` and go above the rest of `lo` (the middle when there is none,
    // leaving room on both sides).
    let mut out = vec![a];
    match lo.get(1..) {
        Some(rest) if !rest.is_empty() => out.extend(append(rest)),
        _ => out.push(MIDDLE),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ordered(keys: &[String]) -> bool {
        keys.windows(2).all(|w| w[0] < w[1]) && keys.iter().all(|k| is_valid(k))
    }

    #[test]
    fn the_first_key_is_the_middle_and_ends_step_one_digit() {
        assert_eq!(between(None, None).unwrap(), "V");
        assert_eq!(between(Some("V"), None).unwrap(), "W");
        assert_eq!(between(None, Some("V")).unwrap(), "U");
        assert_eq!(between(Some("z"), None).unwrap(), "z1");
        assert_eq!(between(None, Some("1")).unwrap(), "0z");
        assert_eq!(between(Some("A"), Some("C")).unwrap(), "B");
        assert_eq!(between(Some("A"), Some("B")).unwrap(), "AV");
        assert_eq!(between(Some("A"), Some("B5")).unwrap(), "B");
    }

    #[test]
    fn malformed_or_unordered_neighbours_are_refused() {
        assert!(matches!(
            between(Some("V0"), None),
            Err(PositionError::Malformed(_))
        ));
        assert!(matches!(
            between(Some("a-b"), None),
            Err(PositionError::Malformed(_))
        ));
        assert!(matches!(
            between(Some(""), None),
            Err(PositionError::Malformed(_))
        ));
        assert!(matches!(
            between(Some("W"), Some("V")),
            Err(PositionError::Unordered(..))
        ));
        assert!(matches!(
            between(Some("V"), Some("V")),
            Err(PositionError::Unordered(..))
        ));
    }

    #[test]
    fn five_hundred_inserts_at_the_front_stay_short_and_ordered() {
        let mut keys = vec![between(None, None).unwrap()];
        for _ in 0..500 {
            let key = between(None, Some(&keys[0])).unwrap();
            keys.insert(0, key);
        }
        assert!(ordered(&keys));
        let longest = keys.iter().map(String::len).max().unwrap();
        assert!(longest <= 10, "longest key {longest}");
    }

    #[test]
    fn five_hundred_appends_stay_short_and_ordered() {
        let mut keys = vec![between(None, None).unwrap()];
        for _ in 0..500 {
            let key = between(keys.last().map(String::as_str), None).unwrap();
            keys.push(key);
        }
        assert!(ordered(&keys));
        let longest = keys.iter().map(String::len).max().unwrap();
        assert!(longest <= 10, "longest key {longest}");
    }

    #[test]
    fn five_hundred_inserts_between_the_same_two_items_stay_ordered() {
        // Always right after the first item (so between it and the last insert), then always
        // right before the last item: the worst and the best spot inside a list.
        for after_first in [true, false] {
            let mut keys = vec![between(None, None).unwrap()];
            keys.push(between(Some(&keys[0]), None).unwrap());
            for _ in 0..500 {
                let at = if after_first { 1 } else { keys.len() - 1 };
                let key = between(Some(&keys[at - 1]), Some(&keys[at])).unwrap();
                keys.insert(at, key);
            }
            assert!(ordered(&keys), "after_first={after_first}");
            let longest = keys.iter().map(String::len).max().unwrap();
            // One digit holds log2(62) ~ 5.95 halvings of the gap; rounding to whole digits
            // makes it about 5.
            assert!(
                longest <= 110,
                "after_first={after_first}: longest key {longest}"
            );
        }
    }

    fn key() -> impl Strategy<Value = String> {
        "[0-9A-Za-z]{0,6}[1-9A-Za-z]"
    }

    proptest! {
        #[test]
        fn a_key_between_two_keys_lies_strictly_between(a in key(), b in key()) {
            prop_assume!(a != b);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let mid = between(Some(&lo), Some(&hi)).unwrap();
            prop_assert!(is_valid(&mid), "{mid}");
            prop_assert!(lo < mid && mid < hi, "{lo} < {mid} < {hi}");
            let before = between(None, Some(&lo)).unwrap();
            prop_assert!(is_valid(&before) && before < lo, "{before} < {lo}");
            let after = between(Some(&hi), None).unwrap();
            prop_assert!(is_valid(&after) && hi < after, "{hi} < {after}");
        }

        #[test]
        fn any_run_of_inserts_and_moves_keeps_keys_unique_and_ordered(
            ops in proptest::collection::vec((any::<u16>(), any::<u16>(), any::<bool>()), 1..300)
        ) {
            let mut keys: Vec<String> = Vec::new();
            for (at, from, is_move) in ops {
                if is_move && keys.len() > 1 {
                    let from = from as usize % keys.len();
                    keys.remove(from);
                }
                let at = at as usize % (keys.len() + 1);
                let lo = at.checked_sub(1).map(|i| keys[i].as_str());
                let hi = keys.get(at).map(String::as_str);
                let key = between(lo, hi).unwrap();
                keys.insert(at, key);
                prop_assert!(ordered(&keys), "{keys:?}");
            }
        }
    }
}
