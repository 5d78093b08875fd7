//! A minimal ZIP writer (stored entries) and reader (stored or deflated entries): solution
//! packages are ZIPs despite their `.cab` name, and `ImportLayers` takes a ZIP of `.jsonc`
//! layers. Enough of the format for those, read through the central directory so archives
//! written with data descriptors work too.

use std::io::Read;

/// Fixed DOS time/date (2026-01-01 00:00) so the same content gives the same bytes and hash.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = ((2026 - 1980) << 9) | (1 << 5) | 1;

/// Writes a ZIP of stored (uncompressed) entries.
pub fn write(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(data);
        let (size, name_len) = (data.len() as u32, name.len() as u16);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0, 0, DOS_TIME, DOS_DATE] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [20u16, 20, 0, 0, DOS_TIME, DOS_DATE] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    let count = entries.len() as u16;
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads every file entry of a ZIP; `Err` says what is wrong with the archive.
pub fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let eocd = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(bytes, i) == Some(0x0605_4b50))
        .ok_or("not a ZIP archive (no end of central directory)")?;
    let count = u16_at(bytes, eocd + 10).ok_or("truncated ZIP")? as usize;
    let mut at = u32_at(bytes, eocd + 16).ok_or("truncated ZIP")? as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(bytes, at) != Some(0x0201_4b50) {
            return Err("corrupt ZIP central directory".into());
        }
        let field = |off: usize| u16_at(bytes, at + off).ok_or("truncated ZIP");
        let method = field(10)?;
        let crc = u32_at(bytes, at + 16).ok_or("truncated ZIP")?;
        let packed = u32_at(bytes, at + 20).ok_or("truncated ZIP")? as usize;
        let (name_len, extra_len, comment_len) = (
            field(28)? as usize,
            field(30)? as usize,
            field(32)? as usize,
        );
        let local = u32_at(bytes, at + 42).ok_or("truncated ZIP")? as usize;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or("truncated ZIP")?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if name.ends_with('/') {
            continue;
        }
        let local_name = u16_at(bytes, local + 26).ok_or("truncated ZIP")? as usize;
        let local_extra = u16_at(bytes, local + 28).ok_or("truncated ZIP")? as usize;
        let start = local + 30 + local_name + local_extra;
        let data = bytes
            .get(start..start + packed)
            .ok_or("truncated ZIP entry")?;
        let data = match method {
            0 => data.to_vec(),
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(data)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("entry '{name}' does not inflate: {e}"))?;
                out
            }
            other => {
                return Err(format!(
                    "entry '{name}' uses compression method {other}; only stored and deflate are supported"
                ));
            }
        };
        if crc32fast::hash(&data) != crc {
            return Err(format!("entry '{name}' fails its CRC check"));
        }
        entries.push((name, data));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let entries = vec![
            ("Solution.json".to_string(), b"{\"a\":1}".to_vec()),
            ("Layers/App/L.jsonc".to_string(), Vec::new()),
        ];
        let zip = write(&entries);
        assert_eq!(read(&zip).expect("readable"), entries);
        assert_eq!(write(&entries), zip, "deterministic");
    }

    #[test]
    fn reads_deflated_entries() {
        use std::io::Write;
        let data = b"hello hello hello hello".to_vec();
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&data).expect("deflate");
        let packed = enc.finish().expect("deflate");
        let mut zip = write(&[("x.txt".to_string(), packed.clone())]);
        // Patch method (local and central) to deflate, CRC and sizes to the plain data's.
        let crc = crc32fast::hash(&data).to_le_bytes();
        zip[8] = 8;
        zip[14..18].copy_from_slice(&crc);
        zip[22..26].copy_from_slice(&(data.len() as u32).to_le_bytes());
        let cd = zip.len() - 22 - 46 - 5;
        zip[cd + 10] = 8;
        zip[cd + 16..cd + 20].copy_from_slice(&crc);
        zip[cd + 24..cd + 28].copy_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(
            read(&zip).expect("readable"),
            vec![("x.txt".to_string(), data)]
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(read(b"not a zip").is_err());
        let mut zip = write(&[("a".to_string(), b"abc".to_vec())]);
        zip[30 + 1] ^= 0xff;
        assert!(read(&zip).is_err(), "CRC mismatch");
    }
}
