//! ICY (SHOUTcast/Icecast) in-stream metadata: every `metaint` audio bytes, one length byte (in
//! units of 16) and that many bytes of `StreamTitle='...';`, zero-padded. A zero length byte when
//! nothing changed.

use bytes::{BufMut, Bytes, BytesMut};

/// The `icy-metaint` Veza announces.
pub const METAINT: usize = 16_000;

pub struct IcyInterleaver {
    metaint: usize,
    until_meta: usize,
    sent: Option<String>,
}

impl IcyInterleaver {
    pub fn new(metaint: usize) -> Self {
        Self {
            metaint,
            until_meta: metaint,
            sent: None,
        }
    }

    /// Audio in, audio with metadata blocks out; `title` is the current now-playing text.
    pub fn process(&mut self, mut audio: Bytes, title: &str) -> Bytes {
        let mut out = BytesMut::with_capacity(audio.len() + 64);
        while !audio.is_empty() {
            let take = self.until_meta.min(audio.len());
            out.put(audio.split_to(take));
            self.until_meta -= take;
            if self.until_meta == 0 {
                self.put_meta(&mut out, title);
                self.until_meta = self.metaint;
            }
        }
        out.freeze()
    }

    fn put_meta(&mut self, out: &mut BytesMut, title: &str) {
        if self.sent.as_deref() == Some(title) {
            out.put_u8(0);
            return;
        }
        // Quotes would end the value early in players' parsers; the block holds at most 255 * 16.
        let clean: String = title
            .replace('\'', "’")
            .chars()
            .filter(|c| !c.is_control())
            .take(1000)
            .collect();
        let text = format!("StreamTitle='{clean}';");
        let blocks = text.len().div_ceil(16).min(255);
        out.put_u8(blocks as u8);
        let mut padded = text.into_bytes();
        padded.resize(blocks * 16, 0);
        out.put_slice(&padded);
        self.sent = Some(title.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits an ICY stream back into audio and titles, as a player does.
    fn parse(stream: &[u8], metaint: usize) -> (Vec<u8>, Vec<String>) {
        let (mut audio, mut titles, mut i) = (Vec::new(), Vec::new(), 0);
        while i < stream.len() {
            let n = metaint.min(stream.len() - i);
            audio.extend_from_slice(&stream[i..i + n]);
            i += n;
            if n < metaint || i >= stream.len() {
                break;
            }
            let len = stream[i] as usize * 16;
            i += 1;
            if len > 0 {
                let text = String::from_utf8_lossy(&stream[i..i + len])
                    .trim_end_matches('\0')
                    .to_string();
                titles.push(text);
            }
            i += len;
        }
        (audio, titles)
    }

    #[test]
    fn metadata_lands_every_metaint_bytes_and_only_when_changed() {
        let mut icy = IcyInterleaver::new(100);
        let audio: Vec<u8> = (0..350u32).map(|i| i as u8).collect();
        let mut stream = Vec::new();
        stream.extend_from_slice(&icy.process(Bytes::copy_from_slice(&audio[..130]), "First"));
        stream.extend_from_slice(&icy.process(Bytes::copy_from_slice(&audio[130..]), "Second's"));
        let (back, titles) = parse(&stream, 100);
        assert_eq!(back, audio);
        assert_eq!(
            titles,
            vec!["StreamTitle='First';", "StreamTitle='Second’s';"]
        );
    }
}
