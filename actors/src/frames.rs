//! The client's side of a WebSocket: [`ClientFrames`] decodes frames straight from the upgrade
//! request's payload into whole [`ClientMessage`]s (continuations joined), and carries the
//! connection's heartbeat timer and the watch on its writer, so the connection actor has one
//! stream and an idle socket keeps no buffer here.
//!
//! Limits, each closing with 1009 ([`ProtocolError::Overflow`]): a frame whose header declares more
//! than `max` bytes (refused on the header, before its payload is buffered), a fragmented message
//! whose pieces add up to more than `max`, or one split into more than [`MAX_PIECES`] frames.

use crate::outbox::{WriterExit, WriterWatch};
use actix_codec::Decoder;
use actix_http::ws::{CloseReason, Codec, Frame, Item, ProtocolError};
use actix_http::Payload;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

/// Frames a fragmented message may be split into (empty continuations included).
pub const MAX_PIECES: usize = 1024;

/// The largest WebSocket frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER: usize = 14;

/// A whole message from the client (continuations already joined).
#[derive(Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Text(ByteString),
    /// Binary messages are refused; their content is not kept.
    Binary,
    Ping(Bytes),
    Pong,
    Close(Option<CloseReason>),
}

/// What the connection actor's stream yields: the client's messages, the heartbeat ticks, and
/// once, the end of the writer (the response body) if it ends first.
#[derive(Debug)]
pub enum Inbound {
    Frame(Result<ClientMessage, ProtocolError>),
    /// Time to ping (or to drop a client silent for too long).
    Heartbeat,
    WriterDone(WriterExit),
}

/// Whether `e` is a text message that is not UTF-8 (closed with 1007, RFC 6455 7.4.1).
pub fn is_invalid_text(e: &ProtocolError) -> bool {
    matches!(e, ProtocolError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData)
}

/// The pieces of a fragmented message so far (rare: boxed, so an idle socket does not carry it).
/// A binary message keeps only its length: its content is refused anyway.
#[derive(Default)]
struct Parts {
    pieces: Vec<Bytes>,
    frames: usize,
    len: usize,
    text: bool,
}

pin_project_lite::pin_project! {
    /// The connection actor's one stream (see the module's text for its limits).
    pub struct ClientFrames {
        payload: Payload,
        buf: BytesMut,
        codec: Codec,
        max: usize,
        parts: Option<Box<Parts>>,
        writer: Option<WriterWatch>,
        eof: bool,
        period: Duration,
        #[pin]
        heartbeat: tokio::time::Sleep,
    }
}

impl ClientFrames {
    pub fn new(payload: Payload, max: usize, writer: WriterWatch, heartbeat: Duration) -> Self {
        ClientFrames {
            payload,
            buf: BytesMut::new(),
            codec: Codec::new().max_size(max),
            max,
            parts: None,
            writer: Some(writer),
            eof: false,
            period: heartbeat,
            heartbeat: tokio::time::sleep(heartbeat),
        }
    }
}

fn text_message(bytes: Bytes) -> Result<ClientMessage, ProtocolError> {
    ByteString::try_from(bytes)
        .map(ClientMessage::Text)
        .map_err(|e| ProtocolError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// The payload length the frame at the start of `buf` declares, once its header is in.
fn declared_len(buf: &[u8]) -> Option<u64> {
    let short = u64::from(*buf.get(1)? & 0x7f);
    match short {
        126 => Some(u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]))),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        _ => Some(short),
    }
}

/// An incomplete frame in `buf` that can already be refused: its header declares more than
/// `max` bytes, or more than a whole frame of `max` bytes has been buffered.
fn too_large(buf: &[u8], max: usize) -> bool {
    declared_len(buf).is_some_and(|len| len > max as u64) || buf.len() > max + MAX_HEADER
}

/// A decoded frame: a whole message, or `None` for a piece of a fragmented one.
fn message(
    parts: &mut Option<Box<Parts>>,
    max: usize,
    frame: Frame,
) -> Result<Option<ClientMessage>, ProtocolError> {
    let (bytes, first, last) = match frame {
        Frame::Text(bytes) => return text_message(bytes).map(Some),
        Frame::Binary(_) => return Ok(Some(ClientMessage::Binary)),
        Frame::Ping(bytes) => return Ok(Some(ClientMessage::Ping(bytes))),
        Frame::Pong(_) => return Ok(Some(ClientMessage::Pong)),
        Frame::Close(reason) => return Ok(Some(ClientMessage::Close(reason))),
        Frame::Continuation(Item::FirstText(bytes)) => (bytes, Some(true), false),
        Frame::Continuation(Item::FirstBinary(bytes)) => (bytes, Some(false), false),
        Frame::Continuation(Item::Continue(bytes)) => (bytes, None, false),
        Frame::Continuation(Item::Last(bytes)) => (bytes, None, true),
    };
    let p = parts.get_or_insert_with(Box::default);
    if let Some(text) = first {
        p.text = text;
    }
    p.len += bytes.len();
    p.frames += 1;
    if p.len > max || p.frames > MAX_PIECES {
        *parts = None;
        return Err(ProtocolError::Overflow);
    }
    if p.text && !bytes.is_empty() {
        p.pieces.push(bytes);
    }
    if !last {
        return Ok(None);
    }
    let Some(p) = parts.take() else {
        return Ok(None);
    };
    if !p.text {
        return Ok(Some(ClientMessage::Binary));
    }
    let mut whole = BytesMut::with_capacity(p.len);
    p.pieces
        .iter()
        .for_each(|piece| whole.extend_from_slice(piece));
    text_message(whole.freeze()).map(Some)
}

impl ClientFrames {
    /// The next whole message already in the buffer, or `None` when more bytes are needed.
    fn decode_buffered(self: Pin<&mut Self>) -> Option<Result<ClientMessage, ProtocolError>> {
        let this = self.project();
        loop {
            match this.codec.decode(this.buf) {
                Ok(Some(frame)) => {
                    let result = match message(this.parts, *this.max, frame) {
                        Ok(None) => continue,
                        Ok(Some(message)) => Ok(message),
                        Err(e) => Err(e),
                    };
                    if this.buf.is_empty() {
                        // Nothing left over: do not keep the buffer while the socket idles.
                        *this.buf = BytesMut::new();
                    }
                    return Some(result);
                }
                Ok(None) if too_large(this.buf, *this.max) => {
                    *this.buf = BytesMut::new();
                    *this.eof = true;
                    return Some(Err(ProtocolError::Overflow));
                }
                Ok(None) => return None,
                Err(e) => {
                    *this.buf = BytesMut::new();
                    *this.eof = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Stream for ClientFrames {
    type Item = Inbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Inbound>> {
        let mut this = self.as_mut().project();
        if let Some(writer) = this.writer.as_mut() {
            if let Poll::Ready(exit) = Pin::new(writer).poll(cx) {
                *this.writer = None;
                return Poll::Ready(Some(Inbound::WriterDone(exit)));
            }
        }
        if this.heartbeat.as_mut().poll(cx).is_ready() {
            // Missed ticks (the actor was busy) are not made up in a burst.
            let next = (this.heartbeat.deadline() + *this.period).max(tokio::time::Instant::now());
            this.heartbeat.as_mut().reset(next);
            return Poll::Ready(Some(Inbound::Heartbeat));
        }
        loop {
            if let Some(result) = self.as_mut().decode_buffered() {
                return Poll::Ready(Some(Inbound::Frame(result)));
            }
            let this = self.as_mut().project();
            if *this.eof {
                return Poll::Ready(None);
            }
            match Pin::new(&mut *this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => this.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    *this.eof = true;
                    let e = ProtocolError::Io(std::io::Error::other(e));
                    return Poll::Ready(Some(Inbound::Frame(Err(e))));
                }
                Poll::Ready(None) => *this.eof = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn continuation(item: Item) -> Frame {
        Frame::Continuation(item)
    }

    #[test]
    fn headers_are_refused_before_the_payload_arrives() {
        // Masked text frame declaring 2^40 bytes: refused on its 10-byte header.
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(too_large(&header, 64 * 1024));
        assert!(!too_large(&header[..5], 64 * 1024), "length not in yet");
        let mut small = vec![0x81, 0x80 | 126];
        small.extend_from_slice(&1000u16.to_be_bytes());
        assert!(!too_large(&small, 64 * 1024));
        assert!(too_large(&small, 999));
    }

    #[test]
    fn fragments_join_and_are_bounded() {
        let mut parts = None;
        let first = continuation(Item::FirstText(Bytes::from_static(b"he")));
        assert_eq!(message(&mut parts, 100, first).unwrap(), None);
        let rest = continuation(Item::Last(Bytes::from_static(b"llo")));
        assert_eq!(
            message(&mut parts, 100, rest).unwrap(),
            Some(ClientMessage::Text(ByteString::from_static("hello")))
        );
        // Empty continuations count: a flood of them is cut off.
        let mut parts = None;
        let first = continuation(Item::FirstText(Bytes::new()));
        assert_eq!(message(&mut parts, 100, first).unwrap(), None);
        let mut outcome = Ok(None);
        for _ in 0..MAX_PIECES {
            outcome = message(&mut parts, 100, continuation(Item::Continue(Bytes::new())));
            if outcome.is_err() {
                break;
            }
        }
        assert!(matches!(outcome, Err(ProtocolError::Overflow)));
        // Too many bytes in all.
        let mut parts = None;
        let big = Bytes::from(vec![b'a'; 60]);
        let first = continuation(Item::FirstText(big.clone()));
        assert_eq!(message(&mut parts, 100, first).unwrap(), None);
        let again = continuation(Item::Last(big));
        assert!(matches!(
            message(&mut parts, 100, again),
            Err(ProtocolError::Overflow)
        ));
    }

    #[test]
    fn binary_fragments_keep_no_content_and_bad_text_is_marked() {
        let mut parts = None;
        let first = continuation(Item::FirstBinary(Bytes::from_static(b"\x00\x01")));
        assert_eq!(message(&mut parts, 100, first).unwrap(), None);
        assert!(parts.as_ref().is_some_and(|p| p.pieces.is_empty()));
        let last = continuation(Item::Last(Bytes::from_static(b"\x02")));
        assert_eq!(
            message(&mut parts, 100, last).unwrap(),
            Some(ClientMessage::Binary)
        );
        let bad = message(&mut None, 100, Frame::Text(Bytes::from_static(b"\xff\xfe")));
        assert!(bad.as_ref().is_err_and(is_invalid_text), "{bad:?}");
    }
}
