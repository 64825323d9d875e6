//! The construction on its own: round trips, ranges at every chunk boundary, and every way a
//! stored object can be altered.

use super::*;
use secrecy::SecretBox;
use std::ops::Range;

/// Plaintext bytes per chunk in these tests (the smallest allowed, so objects of a few chunks
/// stay small).
const C: u32 = 1024;
const CU: usize = C as usize;

fn key(byte: u8) -> Key {
    SecretBox::new(Box::new([byte; KEY_LEN]))
}

/// A keyring holding `keys` (id, key byte) that seals with `seal`.
fn ring(keys: &[(&str, u8)], seal: Option<&str>) -> Keyring {
    let keys = keys
        .iter()
        .map(|(id, byte)| ((*id).to_owned(), key(*byte)))
        .collect();
    Keyring::new(keys, seal.map(|id| (id.to_owned(), C)))
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Seal `plain` pushed in pieces of `piece` bytes.
fn seal(ring: &Keyring, plain: &[u8], piece: usize) -> Vec<u8> {
    let mut sealer = ring.sealer().expect("random").expect("sealing is on");
    let mut out = Vec::new();
    for part in plain.chunks(piece.max(1)) {
        out.extend_from_slice(&sealer.push(part).expect("seal"));
    }
    out.extend_from_slice(&sealer.finish().expect("seal"));
    out
}

/// Open plaintext `range` of `object`, feeding its ciphertext in pieces of 100 bytes.
fn open(ring: &Keyring, object: &[u8], range: Range<u64>) -> Result<Vec<u8>, CryptError> {
    assert!(Header::is_sealed(object));
    let header = Header::parse(object)?;
    let layout = Layout::new(header.chunk_size, object.len() as u64)?;
    let key = ring.object_key(&header)?;
    let Some((mut opener, bytes)) = Opener::new(key, layout, range) else {
        return Ok(Vec::new());
    };
    let sealed = &object[bytes.start as usize..bytes.end as usize];
    let mut out = Vec::new();
    for piece in sealed.chunks(100) {
        opener.feed(piece);
        while let Some(plain) = opener.next_chunk()? {
            out.extend_from_slice(&plain);
        }
    }
    opener.finish()?;
    Ok(out)
}

/// Open the whole of `object`, every chunk checked (as a read without a range does).
fn open_all(ring: &Keyring, object: &[u8]) -> Result<Vec<u8>, CryptError> {
    let header = Header::parse(object)?;
    let layout = Layout::new(header.chunk_size, object.len() as u64)?;
    let mut opener = Opener::whole(ring.object_key(&header)?, layout);
    let mut out = Vec::new();
    for piece in object[HEADER_LEN..].chunks(100) {
        opener.feed(piece);
        while let Some(plain) = opener.next_chunk()? {
            out.extend_from_slice(&plain);
        }
    }
    opener.finish()?;
    Ok(out)
}

#[test]
fn every_size_round_trips_and_the_layout_gives_back_the_plaintext_size() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    for len in [0, 1, CU - 1, CU, CU + 1, 2 * CU, 7 * CU + 3] {
        for piece in [1, 7, CU, CU + 1, 5 * CU] {
            let plain = plaintext(len);
            let object = seal(&ring, &plain, piece);
            assert_eq!(
                object.len() as u64,
                Sealer::sealed_len(len as u64, C),
                "{len}"
            );
            let layout = Layout::new(C, object.len() as u64).expect("layout");
            assert_eq!(layout.plain_len, len as u64);
            assert_eq!(layout.chunks, (len as u64).div_ceil(u64::from(C)).max(1));
            assert_eq!(
                open_all(&ring, &object).expect("opens"),
                plain,
                "{len}/{piece}"
            );
            let ranged = open(&ring, &object, 0..len as u64).expect("opens");
            assert_eq!(ranged, plain, "{len}/{piece}");
        }
    }
}

#[test]
fn the_ciphertext_shows_none_of_the_plaintext_and_differs_every_time() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    let plain = vec![b'a'; 3 * CU];
    let one = seal(&ring, &plain, CU);
    let two = seal(&ring, &plain, CU);
    assert_ne!(one, two, "a fresh salt and nonce prefix per object");
    assert!(!one.windows(16).any(|w| w == &plain[..16]));
    assert_eq!(&one[..8], &MAGIC);
}

#[test]
fn ranges_at_every_chunk_boundary_read_exactly_their_bytes() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    let len = 3 * CU + 5;
    let plain = plaintext(len);
    let object = seal(&ring, &plain, 4000);
    let marks: Vec<usize> = [
        0,
        1,
        CU - 1,
        CU,
        CU + 1,
        2 * CU - 1,
        2 * CU,
        3 * CU,
        3 * CU + 4,
        len,
    ]
    .into_iter()
    .collect();
    for &start in &marks {
        for &end in marks.iter().chain([len + 100].iter()) {
            if end <= start {
                continue;
            }
            let got = open(&ring, &object, start as u64..end as u64).expect("range opens");
            assert_eq!(got, &plain[start..end.min(len)], "{start}..{end}");
        }
    }
    assert!(
        open(&ring, &object, len as u64..len as u64 + 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_range_fetches_only_the_chunks_under_it() {
    let layout = Layout::new(C, Sealer::sealed_len(3 * u64::from(C) + 5, C)).unwrap();
    let sealed = u64::from(C) + TAG_LEN as u64;
    let h = HEADER_LEN as u64;
    let (chunks, bytes) = layout.locate(&(1030..1040)).unwrap();
    assert_eq!((chunks, bytes), (1..2, h + sealed..h + 2 * sealed));
    let (chunks, bytes) = layout.locate(&(1023..3077)).unwrap();
    assert_eq!(chunks, 0..4);
    assert_eq!(bytes, h..h + 3 * sealed + 5 + TAG_LEN as u64);
    assert_eq!(layout.locate(&(3077..4000)), None);
}

#[test]
fn dropping_the_last_chunk_is_detected() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    for len in [3 * CU, 3 * CU + 5] {
        let object = seal(&ring, &plaintext(len), CU);
        let last = if len % CU == 0 { CU } else { len % CU } + TAG_LEN;
        let cut = &object[..object.len() - last];
        let new_last = (len - 1) / CU - 1;
        assert_eq!(
            open_all(&ring, cut),
            Err(CryptError::Tampered {
                index: new_last as u64
            }),
            "the new last chunk was not sealed as last"
        );
        // Cut inside the last chunk: its tag fails.
        let last_index = if len % CU == 0 { 2 } else { 3 };
        assert_eq!(
            open_all(&ring, &object[..object.len() - 1]),
            Err(CryptError::Tampered { index: last_index })
        );
        // Cut to fewer bytes than a tag: no chunk fits.
        let inside_tag = &object[..object.len() - last + 3];
        assert!(matches!(
            open_all(&ring, inside_tag),
            Err(CryptError::Truncated(_))
        ));
    }
    let mut object = seal(&ring, b"", 1);
    let end = object.len() - 1;
    object[end] ^= 1;
    assert_eq!(
        open_all(&ring, &object),
        Err(CryptError::Tampered { index: 0 })
    );
    assert!(matches!(
        open_all(&ring, &object[..HEADER_LEN]),
        Err(CryptError::Truncated(_))
    ));
}

#[test]
fn reordered_chunks_are_detected() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    let mut object = seal(&ring, &plaintext(3 * CU + 5), CU);
    let sealed = CU + TAG_LEN;
    let (a, b) = (HEADER_LEN, HEADER_LEN + sealed);
    let first: Vec<u8> = object[a..a + sealed].to_vec();
    object.copy_within(b..b + sealed, a);
    object[b..b + sealed].copy_from_slice(&first);
    assert_eq!(
        open_all(&ring, &object),
        Err(CryptError::Tampered { index: 0 })
    );
    assert_eq!(
        open(&ring, &object, (CU as u64)..(CU as u64 + 1)),
        Err(CryptError::Tampered { index: 1 })
    );
}

#[test]
fn a_chunk_from_another_object_under_the_same_key_is_detected() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    let mut one = seal(&ring, &plaintext(3 * CU), CU);
    let two = seal(&ring, &plaintext(3 * CU), CU);
    let at = HEADER_LEN + CU + TAG_LEN;
    one[at..at + CU + TAG_LEN].copy_from_slice(&two[at..at + CU + TAG_LEN]);
    assert_eq!(
        open_all(&ring, &one),
        Err(CryptError::Tampered { index: 1 })
    );
    // Another object's header on this object's chunks: the object key differs.
    let mut swapped = two[..HEADER_LEN].to_vec();
    swapped.extend_from_slice(&seal(&ring, &plaintext(3 * CU), CU)[HEADER_LEN..]);
    assert_eq!(
        open_all(&ring, &swapped),
        Err(CryptError::Tampered { index: 0 })
    );
}

#[test]
fn a_flipped_bit_anywhere_fails_and_names_its_chunk() {
    let ring = ring(&[("k1", 1)], Some("k1"));
    let object = seal(&ring, &plaintext(2 * CU + 10), CU);
    let chunk_at = |i: usize| HEADER_LEN + i * (CU + TAG_LEN);
    for (at, index) in [
        (chunk_at(0), 0),
        (chunk_at(1) - 1, 0), // chunk 0's tag
        (chunk_at(1) + 500, 1),
        (chunk_at(2) + 3, 2),
        (object.len() - 1, 2), // the final tag
        (50, 0),               // the salt: another object key
        (80, 0),               // the nonce prefix
    ] {
        let mut bad = object.clone();
        bad[at] ^= 0x01;
        assert_eq!(
            open_all(&ring, &bad),
            Err(CryptError::Tampered { index }),
            "byte {at}"
        );
    }
    // Chunks the range does not touch are not read, so a range before the damage still reads.
    let mut bad = object.clone();
    bad[chunk_at(2) + 3] ^= 0x01;
    assert_eq!(open(&ring, &bad, 0..10).unwrap(), &plaintext(10)[..]);
    // The header's own fields: version, key id, chunk size.
    let mut bad = object.clone();
    bad[8] = 2;
    assert!(matches!(
        open_all(&ring, &bad),
        Err(CryptError::Malformed(_))
    ));
    let mut bad = object.clone();
    bad[11] ^= 0x01; // "k1" becomes "k0"
    assert_eq!(
        open_all(&ring, &bad),
        Err(CryptError::UnknownKey("k0".into()))
    );
    let mut bad = object.clone();
    bad[44] ^= 0x08; // chunk size 1024 becomes 3072: another layout, and the tags fail
    assert!(open_all(&ring, &bad).is_err());
}

#[test]
fn a_missing_key_or_a_wrong_key_under_the_same_id_fails() {
    let object = seal(&ring(&[("k1", 1)], Some("k1")), &plaintext(100), 7);
    let other = ring(&[("k2", 2)], Some("k2"));
    assert_eq!(
        open_all(&other, &object),
        Err(CryptError::UnknownKey("k1".into()))
    );
    assert_eq!(
        CryptError::UnknownKey("k1".into()).code(),
        "key_unavailable"
    );
    let impostor = ring(&[("k1", 9)], None);
    assert_eq!(
        open_all(&impostor, &object),
        Err(CryptError::Tampered { index: 0 })
    );
    assert_eq!(CryptError::Tampered { index: 0 }.code(), "integrity_error");
}

#[test]
fn after_rotation_new_objects_use_the_new_key_and_old_ones_still_open() {
    let plain = plaintext(5000);
    let old = seal(&ring(&[("k1", 1)], Some("k1")), &plain, 999);
    let rotated = ring(&[("k1", 1), ("k2", 2)], Some("k2"));
    let new = seal(&rotated, &plain, 999);
    assert_eq!(Header::parse(&old).unwrap().key_id, "k1");
    assert_eq!(Header::parse(&new).unwrap().key_id, "k2");
    assert_eq!(open_all(&rotated, &old).unwrap(), plain);
    assert_eq!(open_all(&rotated, &new).unwrap(), plain);
    // Sealing off but the keys kept: old objects still open, nothing new is sealed.
    let read_only = ring(&[("k1", 1), ("k2", 2)], None);
    assert!(read_only.sealer().unwrap().is_none());
    assert_eq!(open_all(&read_only, &new).unwrap(), plain);
}

#[test]
fn the_header_round_trips_and_plaintext_is_told_apart() {
    let ring = ring(&[("key-2025_a", 1)], Some("key-2025_a"));
    let object = seal(&ring, b"x", 1);
    let header = Header::parse(&object).unwrap();
    assert_eq!(
        (header.key_id.as_str(), header.chunk_size),
        ("key-2025_a", C)
    );
    assert_eq!(header.to_bytes().as_slice(), &object[..HEADER_LEN]);
    assert!(!Header::is_sealed(b"id,name\n1,a\n"));
    assert!(!Header::is_sealed(b"\x89PNG\r\n\x1a\n"));
    assert!(matches!(
        Header::parse(&object[..40]),
        Err(CryptError::Truncated(_))
    ));
}

#[test]
fn debug_shows_key_ids_and_never_keys() {
    let ring = ring(&[("k1", 0xAB)], Some("k1"));
    let debug = format!("{ring:?}");
    assert!(debug.contains("k1"));
    assert!(!debug.contains("171") && !debug.to_lowercase().contains("ab, "));
}
