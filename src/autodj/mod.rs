//! AutoDJ: a stream plays a playlist of library tracks server-side when no source is live, through
//! the same transcoder ladder as a live source, and hands over to a live source and back without a
//! gap. `playout` (tracks crossfaded with rodio's combinators), `picker` (order, shuffle, queue),
//! `track_source` (a file as a rodio source at the mixer's rate and loudness), `mixer` (the real
//! time thread feeding the stream session), `handover` (what it puts on air: the programme, a live
//! source, the crossfades between them, a live source's stall), `live_input` (a live source's
//! decoder for it), `lyrics` (timed lines on the stream clock), `programmes` (the node's
//! programmes, by mount).

pub mod handover;
pub mod keeper;
pub mod library;
pub mod live_input;
pub mod lyrics;
pub mod mixer;
pub mod picker;
pub mod playout;
#[cfg(test)]
mod playout_tests;
pub mod programmes;
pub mod track_source;
