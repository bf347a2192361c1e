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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Any title, any chunking: the audio comes back byte for byte and every block is one
        /// well-formed `StreamTitle='...';` (valid UTF-8, no control characters, no quote inside)
        /// that fits the 255 x 16 bytes a length byte can say.
        #[test]
        fn any_title_gives_well_formed_blocks_and_intact_audio(
            titles in proptest::collection::vec(".{0,1500}", 1..4),
            cuts in proptest::collection::vec(1usize..700, 1..12),
        ) {
            let mut icy = IcyInterleaver::new(100);
            let audio: Vec<u8> = (0..cuts.iter().sum::<usize>()).map(|i| i as u8).collect();
            let (mut stream, mut at) = (Vec::new(), 0);
            for (n, cut) in cuts.iter().enumerate() {
                let title = &titles[n % titles.len()];
                let chunk = Bytes::copy_from_slice(&audio[at..at + cut]);
                stream.extend_from_slice(&icy.process(chunk, title));
                at += cut;
            }
            let (back, blocks) = parse(&stream, 100);
            proptest::prop_assert_eq!(back, audio);
            for block in blocks {
                let value = block
                    .strip_prefix("StreamTitle='")
                    .and_then(|rest| rest.strip_suffix("';"));
                proptest::prop_assert!(value.is_some(), "{:?}", block);
                let value = value.unwrap_or_default();
                proptest::prop_assert!(!value.contains('\''), "{:?}", block);
                proptest::prop_assert!(!value.chars().any(char::is_control), "{:?}", block);
                proptest::prop_assert!(block.len() <= 255 * 16);
            }
        }
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
