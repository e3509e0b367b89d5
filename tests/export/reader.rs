//! An event-file reader written apart from the exporter, from the
//! formats' documentation alone: TFRecord framing with both masked
//! CRC-32Cs checked (the CRC computed bit by bit, not with the crc32c
//! crate), and the protobuf wire format decoded by hand (varints, fixed
//! 32/64-bit fields, length-delimited fields, packed or unpacked repeated
//! doubles), not with prost.

/// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, bit by bit.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// TensorFlow's mask: rotate right by 15, add 0xa282ead8.
#[allow(clippy::manual_rotate)] // TensorFlow's spelling, on purpose
fn masked(data: &[u8]) -> u32 {
    let c = crc32c(data);
    ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    let s = b.get(at..at + 4).ok_or(format!("truncated at byte {at}"))?;
    Ok(u32::from_le_bytes(s.try_into().unwrap()))
}

/// The records of a TFRecord file, each CRC checked.
pub fn records(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes = bytes.get(at..at + 8).ok_or("truncated length")?;
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        if u32_at(bytes, at + 8)? != masked(len_bytes) {
            return Err(format!("record at byte {at}: bad length CRC"));
        }
        let data = bytes
            .get(at + 12..at + 12 + len)
            .ok_or(format!("record at byte {at}: truncated data"))?;
        if u32_at(bytes, at + 12 + len)? != masked(data) {
            return Err(format!("record at byte {at}: bad data CRC"));
        }
        out.push(data);
        at += 12 + len + 4;
    }
    Ok(out)
}

/// A field's payload.
enum Wire<'a> {
    Varint(u64),
    I64(u64),
    Len(&'a [u8]),
    I32(u32),
}

/// The fields of a message, in order.
fn fields(mut b: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("truncated field".into());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (field, wire) = (key >> 3, key & 7);
        let v = match wire {
            0 => Wire::Varint(varint(&mut b)?),
            1 => Wire::I64(u64::from_le_bytes(take(&mut b, 8)?.try_into().unwrap())),
            2 => {
                let n = varint(&mut b)? as usize;
                Wire::Len(take(&mut b, n)?)
            }
            5 => Wire::I32(u32::from_le_bytes(take(&mut b, 4)?.try_into().unwrap())),
            w => return Err(format!("field {field}: unknown wire type {w}")),
        };
        out.push((field, v));
    }
    Ok(out)
}

/// `tensorflow.HistogramProto`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histo {
    pub min: f64,
    pub max: f64,
    pub num: f64,
    pub sum: f64,
    pub sum_squares: f64,
    pub bucket_limit: Vec<f64>,
    pub bucket: Vec<f64>,
}

/// One `Summary.Value`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Value {
    pub tag: String,
    pub simple_value: Option<f32>,
    pub histo: Option<Histo>,
}

/// One `Event`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub wall_time: f64,
    pub step: i64,
    pub file_version: Option<String>,
    pub values: Vec<Value>,
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|e| e.to_string())
}

/// Repeated doubles, packed (one length-delimited run) or not.
fn doubles(into: &mut Vec<f64>, w: &Wire<'_>) -> Result<(), String> {
    match *w {
        Wire::I64(bits) => into.push(f64::from_bits(bits)),
        Wire::Len(b) if b.len() % 8 == 0 => into.extend(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap())),
        ),
        _ => return Err("bad repeated double".into()),
    }
    Ok(())
}

fn double(w: &Wire<'_>) -> Result<f64, String> {
    match *w {
        Wire::I64(bits) => Ok(f64::from_bits(bits)),
        _ => Err("expected a double".into()),
    }
}

fn histo(b: &[u8]) -> Result<Histo, String> {
    let mut h = Histo::default();
    for (f, w) in fields(b)? {
        match f {
            1 => h.min = double(&w)?,
            2 => h.max = double(&w)?,
            3 => h.num = double(&w)?,
            4 => h.sum = double(&w)?,
            5 => h.sum_squares = double(&w)?,
            6 => doubles(&mut h.bucket_limit, &w)?,
            7 => doubles(&mut h.bucket, &w)?,
            _ => {}
        }
    }
    Ok(h)
}

fn value(b: &[u8]) -> Result<Value, String> {
    let mut v = Value::default();
    for (f, w) in fields(b)? {
        match (f, w) {
            (1, Wire::Len(t)) => v.tag = text(t)?,
            (2, Wire::I32(bits)) => v.simple_value = Some(f32::from_bits(bits)),
            (5, Wire::Len(h)) => v.histo = Some(histo(h)?),
            (1 | 2 | 5, _) => return Err(format!("value field {f}: wrong wire type")),
            _ => {}
        }
    }
    Ok(v)
}

/// Decodes one `tensorflow.Event`.
pub fn event(b: &[u8]) -> Result<Event, String> {
    let mut e = Event::default();
    for (f, w) in fields(b)? {
        match (f, w) {
            (1, w) => e.wall_time = double(&w)?,
            (2, Wire::Varint(v)) => e.step = v as i64,
            (3, Wire::Len(t)) => e.file_version = Some(text(t)?),
            (5, Wire::Len(s)) => {
                for (sf, sw) in fields(s)? {
                    if let (1, Wire::Len(vb)) = (sf, sw) {
                        e.values.push(value(vb)?);
                    }
                }
            }
            (2 | 3 | 5, _) => return Err(format!("event field {f}: wrong wire type")),
            _ => {}
        }
    }
    Ok(e)
}

/// Every event of the file's bytes.
pub fn events(bytes: &[u8]) -> Result<Vec<Event>, String> {
    records(bytes)?.into_iter().map(event).collect()
}

#[test]
fn the_crc_has_its_published_check_value() {
    // CRC-32C of "123456789" (RFC 3720, appendix B.4).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn a_flipped_bit_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (db, id) = super::synthetic::store(dir.path());
    let store = gradscope::store::Store::open(&db).unwrap();
    let files = gradscope::export::export_tensorboard(&store, &[id], dir.path()).unwrap();
    let mut bytes = std::fs::read(&files[0].0).unwrap();
    assert!(records(&bytes).is_ok());
    // A bit of the first record's data ("brain.Event:2").
    bytes[20] ^= 1;
    assert!(records(&bytes).unwrap_err().contains("bad data CRC"));
    bytes[20] ^= 1;
    bytes[0] ^= 1;
    assert!(records(&bytes).unwrap_err().contains("bad length CRC"));
}
