//! The container walks on small files made here, byte for byte.

use super::strip::{jpeg, orientation_exif, png, push_png_chunk, webp};
use super::*;

/// A JPEG segment: marker, length, body.
fn segment(code: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, code];
    out.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn the_orientation_exif_holds_the_one_tag_and_nothing_for_upright() {
    assert_eq!(orientation_exif(1).unwrap(), None);
    assert_eq!(orientation_exif(9).unwrap(), None);
    let tiff = orientation_exif(6).unwrap().unwrap();
    // "MM", 42, IFD0 at 8; one entry: tag 0x0112, SHORT, count 1, value 6; no next IFD.
    assert_eq!(
        tiff,
        b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0"
    );
    let exif = ::exif::Reader::new().read_raw(tiff).unwrap();
    let field = exif
        .get_field(::exif::Tag::Orientation, ::exif::In::PRIMARY)
        .unwrap();
    assert_eq!(field.value.get_uint(0), Some(6));
    assert_eq!(exif.fields().count(), 1);
}

#[test]
fn a_jpeg_loses_its_metadata_segments_and_trailer_and_keeps_its_coding() {
    let sos_and_data = [
        segment(0xDA, &[1, 1, 0, 0, 63, 0]),
        // Entropy-coded data with a stuffed 0xFF00 and a restart marker inside.
        vec![0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56],
    ]
    .concat();
    let original = [
        vec![0xFF, 0xD8],
        segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
        segment(0xE1, b"Exif\0\0MM\0\x2a\0\0\0\x08"),
        segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x/>"),
        segment(0xE2, b"ICC_PROFILE\0\x01\x01prof"),
        segment(0xE2, b"MPF\0MM"),
        segment(0xED, b"Photoshop 3.0\0"),
        segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
        segment(0xFE, b"a comment"),
        segment(0xDB, &[0; 65]),
        segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
        sos_and_data.clone(),
        // A COM between scans, then fill bytes before EOI, then a trailer.
        segment(0xFE, b"late"),
        vec![0xFF, 0xFF, 0xD9],
        b"trailing camera data".to_vec(),
    ]
    .concat();
    let expected = |exif: &[u8]| {
        [
            vec![0xFF, 0xD8],
            segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
            exif.to_vec(),
            segment(0xE2, b"ICC_PROFILE\0\x01\x01prof"),
            segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
            segment(0xDB, &[0; 65]),
            segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
            sos_and_data.clone(),
            vec![0xFF, 0xD9],
        ]
        .concat()
    };
    assert_eq!(jpeg(&original, None).unwrap(), expected(&[]));
    let tiff = orientation_exif(8).unwrap().unwrap();
    let app1 = segment(0xE1, &[b"Exif\0\0".as_slice(), &tiff].concat());
    assert_eq!(jpeg(&original, Some(&tiff)).unwrap(), expected(&app1));
}

#[test]
fn a_jpeg_that_ends_inside_a_segment_is_a_warning() {
    let truncated = [vec![0xFF, 0xD8], segment(0xE1, b"Exif\0\0")[..6].to_vec()].concat();
    let warning = jpeg(&truncated, None).unwrap_err();
    assert_eq!(
        warning,
        "no optimised variant: the JPEG's segments could not be followed"
    );
    assert!(jpeg(b"\xFF\xD8\xFF\xDA\0\x02abc", None).is_err(), "no EOI");
}

/// A RIFF chunk, padded to an even size.
fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body = chunks.concat();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&body);
    out
}

#[test]
fn a_webp_loses_exif_xmp_and_unknown_chunks_and_its_flags_follow() {
    // Flags: ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04.
    let vp8x = |flags: u8| riff_chunk(b"VP8X", &[flags, 0, 0, 0, 9, 0, 0, 9, 0, 0]);
    let original = riff(&[
        vp8x(0x3C),
        riff_chunk(b"ICCP", b"profile"),
        riff_chunk(b"ALPH", b"alpha"),
        riff_chunk(b"VP8 ", b"lossy data"),
        riff_chunk(b"EXIF", b"MM\0\x2a exif with a make"),
        riff_chunk(b"XMP ", b"<x:xmpmeta/>"),
        riff_chunk(b"ZZZZ", b"private"),
    ]);
    let kept = [
        riff_chunk(b"ICCP", b"profile"),
        riff_chunk(b"ALPH", b"alpha"),
        riff_chunk(b"VP8 ", b"lossy data"),
    ];
    let stripped = webp(&original, None).unwrap();
    assert_eq!(stripped, riff(&[&[vp8x(0x30)][..], &kept].concat()));
    let tiff = orientation_exif(3).unwrap().unwrap();
    let with_orientation = webp(&original, Some(&tiff)).unwrap();
    assert_eq!(
        with_orientation,
        riff(&[&[vp8x(0x38)][..], &kept, &[riff_chunk(b"EXIF", &tiff)]].concat())
    );
}

#[test]
fn a_simple_webp_comes_back_as_it_is() {
    let simple = riff(&[riff_chunk(b"VP8L", b"lossless")]);
    assert_eq!(webp(&simple, None).unwrap(), simple);
    assert!(webp(b"RIFF\xff\0\0\0WEBPVP8 ", None).is_err());
}

/// A PNG chunk with its CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_png_chunk(&mut out, kind, data);
    out
}

#[test]
fn a_png_loses_its_text_time_and_exif_chunks_and_keeps_the_colour_ones() {
    let signature = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    let colour = [
        png_chunk(b"gAMA", &[0, 0, 0xB1, 0x8F]),
        png_chunk(b"iCCP", b"name\0\0deflated"),
        png_chunk(b"cHRM", &[0; 32]),
        png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]),
    ];
    let idat = png_chunk(b"IDAT", b"zlib");
    let iend = png_chunk(b"IEND", b"");
    let original = [
        &[signature.clone(), ihdr.clone()][..],
        &[png_chunk(b"eXIf", b"MM\0\x2a big exif with gps")],
        &colour,
        &[
            png_chunk(b"tEXt", b"Author\0someone"),
            png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x/>"),
            png_chunk(b"tIME", &[7, 0xE9, 1, 1, 0, 0, 0]),
            png_chunk(b"prVt", b"private"),
            idat.clone(),
            png_chunk(b"zTXt", b"Comment\0\0x"),
            iend.clone(),
        ],
        &[b"after IEND".to_vec()],
    ]
    .concat()
    .concat();
    let without = [
        &[signature.clone(), ihdr.clone()][..],
        &colour,
        &[idat.clone(), iend.clone()],
    ];
    assert_eq!(png(&original, None).unwrap(), without.concat().concat());
    let tiff = orientation_exif(6).unwrap().unwrap();
    let with = [
        &[signature, ihdr, png_chunk(b"eXIf", &tiff)][..],
        &colour,
        &[idat, iend],
    ];
    assert_eq!(png(&original, Some(&tiff)).unwrap(), with.concat().concat());
}

#[test]
fn the_saving_is_counted_against_the_original() {
    let variant = Optimized {
        image: EncodedImage {
            width: 1,
            height: 1,
            format: ImageFormat::Png,
            bytes: vec![0; 750],
        },
        original_bytes: 1000,
        metadata_stripped: false,
    };
    assert_eq!(variant.saving_bytes(), 250);
    assert_eq!(variant.saving_ratio(), 0.25);
}
