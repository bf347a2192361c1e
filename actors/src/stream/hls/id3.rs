//! The ID3 tag at the head of every packed-audio HLS segment: a PRIV frame
//! `com.apple.streaming.transportStreamTimestamp` with the segment's first sample time as a 33-bit
//! 90 kHz MPEG-2 timestamp (RFC 8216 section 3.4).

const OWNER: &[u8] = b"com.apple.streaming.transportStreamTimestamp\0";

fn syncsafe(n: u32) -> [u8; 4] {
    [
        ((n >> 21) & 0x7F) as u8,
        ((n >> 14) & 0x7F) as u8,
        ((n >> 7) & 0x7F) as u8,
        (n & 0x7F) as u8,
    ]
}

/// The ID3v2.4 tag for a segment starting at `pts_90khz`.
pub fn timestamp_tag(pts_90khz: u64) -> Vec<u8> {
    let body = OWNER.len() as u32 + 8;
    let mut tag = Vec::with_capacity(20 + body as usize);
    tag.extend_from_slice(b"ID3\x04\x00\x00");
    tag.extend_from_slice(&syncsafe(10 + body));
    tag.extend_from_slice(b"PRIV");
    tag.extend_from_slice(&syncsafe(body));
    tag.extend_from_slice(&[0, 0]);
    tag.extend_from_slice(OWNER);
    tag.extend_from_slice(&(pts_90khz & 0x1_FFFF_FFFF).to_be_bytes());
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_carries_the_timestamp() {
        let tag = timestamp_tag(0x1_2345_6789);
        assert_eq!(&tag[..3], b"ID3");
        assert_eq!(tag.len(), 10 + 10 + 45 + 8);
        assert_eq!(
            tag[9] as usize,
            tag.len() - 10,
            "tag size excludes the header"
        );
        assert_eq!(&tag[20..65], OWNER);
        assert_eq!(&tag[65..], &0x1_2345_6789u64.to_be_bytes());
    }
}
