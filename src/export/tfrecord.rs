//! TFRecord framing, the container of TensorBoard's event files: each
//! record is
//!
//! ```text
//! u64 length (little-endian)
//! u32 masked CRC-32C of the 8 length bytes
//! [u8; length] data
//! u32 masked CRC-32C of the data
//! ```
//!
//! CRC-32C is the Castagnoli polynomial (`0x1EDC6F41`, reflected
//! `0x82F63B78`); the mask, `((crc >> 15) | (crc << 17)) + 0xa282ead8`
//! (wrapping), is TensorFlow's, so that a CRC over data holding CRCs
//! stays well distributed.
//!
//! ```
//! use gradscope::export::tfrecord::{masked_crc, record};
//! // The standard CRC-32C check value of "123456789" is 0xE3069283.
//! assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
//! let r = record(b"abc");
//! assert_eq!(r.len(), 8 + 4 + 3 + 4);
//! assert_eq!(&r[..8], &3u64.to_le_bytes());
//! assert_eq!(&r[8..12], &masked_crc(&3u64.to_le_bytes()).to_le_bytes());
//! ```

use std::io::{self, Write};

/// TensorFlow's mask delta.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC-32C of `data`.
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Writes `data` as one record.
pub fn write_record(out: &mut impl Write, data: &[u8]) -> io::Result<()> {
    let len = (data.len() as u64).to_le_bytes();
    out.write_all(&len)?;
    out.write_all(&masked_crc(&len).to_le_bytes())?;
    out.write_all(data)?;
    out.write_all(&masked_crc(data).to_le_bytes())
}

/// `data` as one record, in memory.
pub fn record(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    write_record(&mut out, data).expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::manual_rotate)] // TensorFlow's spelling, on purpose
    fn the_mask_rotates_then_adds() {
        // ((crc >> 15) | (crc << 17)) + delta, spelled out.
        let crc = crc32c::crc32c(b"gradscope");
        let spelled = ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
        assert_eq!(masked_crc(b"gradscope"), spelled);
        assert_ne!(masked_crc(b"gradscope"), crc);
    }

    #[test]
    fn an_empty_record_has_both_checksums() {
        let r = record(b"");
        assert_eq!(r.len(), 16);
        assert_eq!(&r[12..16], &masked_crc(b"").to_le_bytes());
    }
}
