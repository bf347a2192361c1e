//! Overlap between a stream's slots: two slots clash when any of their occurrences overlap within
//! the horizon (a year from now, further if a one-off slot lies beyond it), so a weekly slot is
//! checked against a one-off and across every DST change in between.

use super::slot::{Occurrence, Recurrence, SlotSpec};

/// How far ahead weekly slots are compared: a year and a week covers both DST changes of every
/// zone and every weekday pairing.
pub const HORIZON_MS: i64 = 373 * 86_400_000;

/// The first overlap of `new` with `existing`: the existing occurrence it runs into.
pub fn first_clash(new: &SlotSpec, existing: &SlotSpec, now_ms: i64) -> Option<Occurrence> {
    let end = [new, existing]
        .iter()
        .filter_map(|s| match s.recurrence {
            Recurrence::Once { .. } => s.next_after(i64::MIN / 2).map(|o| o.end_ms + 1),
            Recurrence::Weekly { .. } => None,
        })
        .fold(now_ms + HORIZON_MS, i64::max);
    let ours = new.overlapping(now_ms, end);
    let theirs = existing.overlapping(now_ms, end);
    // Both lists are in start order: walk them together.
    let (mut i, mut j) = (0, 0);
    while i < ours.len() && j < theirs.len() {
        let (a, b) = (&ours[i], &theirs[j]);
        if a.start_ms < b.end_ms && b.start_ms < a.end_ms {
            return Some(*b);
        }
        if a.end_ms <= b.end_ms {
            i += 1;
        } else {
            j += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedules::slot::{parse_date, parse_time};
    use chrono::{DateTime, Weekday};
    use chrono_tz::Tz;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn weekly(day: Weekday, time: &str, zone: &str, minutes: i64) -> SlotSpec {
        SlotSpec {
            recurrence: Recurrence::Weekly {
                weekday: day,
                time: parse_time(time).unwrap(),
            },
            zone: zone.parse::<Tz>().unwrap(),
            duration_min: minutes,
        }
    }

    fn once(date: &str, time: &str, zone: &str, minutes: i64) -> SlotSpec {
        SlotSpec {
            recurrence: Recurrence::Once {
                at: parse_date(date)
                    .unwrap()
                    .and_time(parse_time(time).unwrap()),
            },
            zone: zone.parse::<Tz>().unwrap(),
            duration_min: minutes,
        }
    }

    const NOW: &str = "2027-01-04T00:00:00Z";

    #[test]
    fn weekly_slots_that_overlap_clash_and_adjacent_ones_do_not() {
        let paris = weekly(Weekday::Fri, "20:00", "Europe/Paris", 120);
        let later = weekly(Weekday::Fri, "21:30", "Europe/Paris", 60);
        let after = weekly(Weekday::Fri, "22:00", "Europe/Paris", 60);
        assert!(first_clash(&later, &paris, ms(NOW)).is_some());
        assert!(first_clash(&after, &paris, ms(NOW)).is_none());
        // A show past midnight runs into the next day's slot.
        let late = weekly(Weekday::Thu, "23:00", "Europe/Paris", 22 * 60);
        assert!(first_clash(&late, &paris, ms(NOW)).is_some());
    }

    #[test]
    fn zones_with_different_dst_rules_clash_only_while_the_rules_differ() {
        // 19:00 in London and 21:00 in Paris never meet: both move together.
        let paris = weekly(Weekday::Fri, "21:00", "Europe/Paris", 60);
        let london = weekly(Weekday::Fri, "19:00", "Europe/London", 60);
        assert!(first_clash(&london, &paris, ms(NOW)).is_none());
        // New York changes two weeks earlier than Paris: 15:00 there follows 20:00-21:00 in
        // Paris, except in those weeks (NY on EDT, Paris still on CET: 15:00 EDT = 20:00 CET).
        let paris8 = weekly(Weekday::Fri, "20:00", "Europe/Paris", 60);
        let ny = weekly(Weekday::Fri, "15:00", "America/New_York", 60);
        let clash = first_clash(&ny, &paris8, ms(NOW)).expect("they meet in March");
        assert_eq!(clash.start_ms, ms("2027-03-19T19:00:00Z"));
    }

    #[test]
    fn a_one_off_clashes_with_a_weekly_slot_after_a_dst_change() {
        let paris = weekly(Weekday::Fri, "20:00", "Europe/Paris", 120);
        // 18:30 UTC on a Friday in April is 20:30 in Paris (CEST): inside the show.
        let utc = once("2027-04-09", "18:30", "UTC", 30);
        let clash = first_clash(&utc, &paris, ms(NOW)).expect("clash");
        assert_eq!(clash.start_ms, ms("2027-04-09T18:00:00Z"));
        // In January 18:30 UTC is 19:30 in Paris: before the show.
        let winter = once("2027-01-08", "18:30", "UTC", 30);
        assert!(first_clash(&winter, &paris, ms(NOW)).is_none());
        // Both ways round.
        assert!(first_clash(&paris, &utc, ms(NOW)).is_some());
    }

    #[test]
    fn a_one_off_beyond_a_year_is_still_compared() {
        let paris = weekly(Weekday::Fri, "20:00", "Europe/Paris", 120);
        let far = once("2029-01-05", "20:30", "Europe/Paris", 30);
        assert!(first_clash(&far, &paris, ms(NOW)).is_some());
    }
}
