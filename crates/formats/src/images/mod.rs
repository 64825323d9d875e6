//! JPEG, PNG and WebP: the image analyzers.
//!
//! # Design
//!
//! 1. **Header** (`header.rs`, and `jpeg.rs`, `png.rs`, `webp.rs` for each container): the
//!    container is walked without decoding pixels. The image limits (`max_image_pixels`,
//!    `max_image_width`, `max_image_height`) are checked the moment the dimensions are read, and
//!    `max_frames` against both the declared and the counted frames, so a 65536×65536 PNG of a
//!    few bytes fails before any pixel buffer exists. This pass also collects the raw EXIF block
//!    and the ICC profile's size.
//! 2. **EXIF** (`exif.rs`): kamadak-exif; a malformed block is a warning, never a failure.
//! 3. **Pixels** (`decode.rs`): JPEG through jpeg-decoder, scaled by its IDCT (1/2, 1/4, 1/8)
//!    to the smallest size still at least the largest thumbnail, unless a full-size WebP
//!    conversion is asked for; PNG and WebP through `image`, bounded by `image::Limits` as a
//!    second guard. Animations give their first frame. Pixels that cannot be decoded fail the
//!    analysis with `corrupt_file`: a truncated file is a broken file.
//! 4. **Display**: the EXIF orientation (1-8) is applied, so thumbnails and the conversion show
//!    the picture the right way up; `display_width`/`display_height` are the dimensions after it.
//! 5. **Outputs**: thumbnails through [`crate::thumbnail::thumbnails`] (PNG when the picture has
//!    alpha) and, when [`crate::Limits::enable_webp`], a lossy WebP of the whole picture (`convert.rs`).
//! 6. **Optimised variant** (`optimize.rs`), when [`crate::Limits::optimize_images`]: the
//!    original read whole (after the limits passed, the decoded picture dropped), a PNG
//!    recompressed losslessly by oxipng, and with [`crate::Limits::strip_metadata`] any of the
//!    three without its metadata but its orientation; kept only when smaller.
//!
//! Colour is not managed: an embedded ICC profile is reported, not applied, and CMYK JPEGs are
//! converted to RGB by the naive formula Pillow uses.
//!
//! # Measured
//!
//! Release build, one 256 px thumbnail, the inputs of `fileproc-bench-inputs` (`crates/bench-inputs`), 2 shared cores
//! (wall time, peak RSS of the whole process; `vipsthumbnail -s 256` from libvips 8.14 beside it):
//!
//! | input | here | vipsthumbnail |
//! | --- | --- | --- |
//! | 4000×3000 JPEG, EXIF orientation 6 | 0.15 s, 5.5 MB (decoded at 1/8) | 0.22 s, 40 MB |
//! | 3000×2000 RGBA PNG, 13.8 MB | 0.19 s, 54 MB | 0.71 s, 77 MB |
//! | 2000×1500 lossless WebP | 0.13 s, 24 MB | 0.25 s, 53 MB |
//!
//! With the WebP conversion (full-size decode, libwebp at quality 80) the JPEG takes 2.3-3.5 s
//! and 113 MB, the PNG 1.5-2.1 s and 156 MB, the WebP 0.7-1.0 s and 33 MB: libwebp's encoder is
//! most of it.

use serde::{Deserialize, Serialize};

mod analysis;
mod convert;
mod decode;
mod exif;
mod header;
mod jpeg;
mod optimize;
mod png;
mod webp;

pub use exif::{ExifSummary, Exposure, Gps};
pub use optimize::Optimized;

use crate::{Access, Analysis, Analyzer, Context, FileType, FormatError, Input};

/// The `jpeg`, `png` or `webp` section of a result (`DESIGN.md` section 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// Width as stored, in pixels (for an animated WebP, its canvas).
    pub width: u32,
    /// Height as stored, in pixels.
    pub height: u32,
    /// Width once the EXIF orientation is applied: `height` for orientations 5 to 8.
    pub display_width: u32,
    /// Height once the EXIF orientation is applied.
    pub display_height: u32,
    /// The colour model of the stored pixels.
    pub color_type: ColorType,
    /// Bits per sample: JPEG sample precision (8, 12 or 16), PNG bit depth (1, 2, 4, 8 or 16;
    /// for `palette`, bits per index), 8 for WebP.
    pub bit_depth: u8,
    /// Whether pixels may be transparent: an alpha channel, a PNG `tRNS` chunk, or WebP's alpha
    /// flag (`VP8X`) or `alpha_is_used` bit (`VP8L`).
    pub has_alpha: bool,
    /// More than one frame: an APNG (`acTL`) or an animated WebP (`ANIM`/`ANMF`).
    pub animated: bool,
    /// Frames: the APNG's `fcTL` chunks or the WebP's `ANMF` chunks; 1 for a still image.
    pub frame_count: u32,
    /// A progressive JPEG (SOF2, SOF6...) or an Adam7-interlaced PNG.
    pub interlaced: bool,
    /// The EXIF facts, when the file has a readable EXIF block (JPEG APP1, PNG `eXIf`, WebP
    /// `EXIF`).
    pub exif: Option<ExifSummary>,
    /// The embedded ICC profile, when there is one (JPEG APP2, PNG `iCCP`, WebP `ICCP`).
    pub icc_profile: Option<IccProfile>,
}

/// The colour model of the stored pixels.
///
/// PNG: from `IHDR`'s colour type (0 `gray`, 2 `rgb`, 3 `palette`, 4 `gray_alpha`, 6 `rgba`).
/// JPEG: the coded colour space, decided as libjpeg does (1 component `gray`; 3 `ycbcr`, or `rgb`
/// when an Adobe APP14 transform of 0 or the component ids R, G, B say so; 4 `cmyk`, YCCK-coded
/// included). WebP: `rgba` with alpha, else `rgb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorType {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
    Palette,
    Ycbcr,
    Cmyk,
}

impl ColorType {
    /// Whether the model has an alpha channel of its own.
    pub fn has_alpha(self) -> bool {
        matches!(self, ColorType::GrayAlpha | ColorType::Rgba)
    }
}

/// An embedded ICC profile (ICC.1:2022).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IccProfile {
    /// The profile's size in bytes (for PNG, once inflated).
    pub size: u64,
    /// Its data colour space from the profile header, e.g. `RGB`, `CMYK`, `GRAY`.
    pub color_space: Option<String>,
}

/// The analyzer of one image format.
pub struct ImageAnalyzer(FileType);

/// JPEG images (ITU-T T.81, JFIF, Exif).
pub static JPEG: ImageAnalyzer = ImageAnalyzer(FileType::Jpeg);
/// PNG images, APNG included (PNG spec, 3rd edition).
pub static PNG: ImageAnalyzer = ImageAnalyzer(FileType::Png);
/// WebP images, animated included (RFC 9649).
pub static WEBP: ImageAnalyzer = ImageAnalyzer(FileType::Webp);

impl Analyzer for ImageAnalyzer {
    fn name(&self) -> &'static str {
        self.0.as_str()
    }
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
    fn access(&self) -> Access {
        Access::Random
    }
    /// # Errors
    /// [`FormatError::Empty`] for no bytes; [`FormatError::TypeMismatch`] for another image
    /// type's signature; [`FormatError::Corrupt`] for a wrong signature, a malformed or truncated
    /// container, or pixels that cannot be decoded; [`FormatError::LimitExceeded`] for
    /// dimensions, pixels or frames past [`crate::Limits`]; [`FormatError::Unsupported`] for coding
    /// features no decoder here has, or a forward-only input; [`FormatError::Cancelled`];
    /// [`FormatError::Io`].
    fn analyze(&self, input: Input<'_>, ctx: &mut Context<'_>) -> Result<Analysis, FormatError> {
        match input {
            Input::Seekable(file) => analysis::analyze(self.0, file, ctx),
            Input::Stream(_) => Err(FormatError::Unsupported(
                "image analysis needs a seekable input".into(),
            )),
        }
    }
}
