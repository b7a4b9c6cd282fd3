//! The screen as a picture: a PNG of the terminal as it shows — colours (16, 256, RGB),
//! bold, dim, italic, underline, inverse, box drawing, wide characters, the cursor —
//! drawn with fonts bundled in the binary (DejaVu Sans Mono; DejaVu Sans, then a subset
//! of Symbola for the symbols — technical, dingbats, emoji — DejaVu lacks, such as
//! Claude Code's `⎿`; `assets/fonts/`), so it works on a server without fonts. A
//! character no font has is drawn as a visible box, never a gap. Rasterizing is ab_glyph's,
//! encoding png's.

use std::collections::HashMap;
use std::sync::LazyLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono-Bold.ttf");
static FALLBACK: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static SYMBOLS: &[u8] = include_bytes!("../../assets/fonts/Symbola-symbols.ttf");

/// The font size in pixels (ascent to descent): cells of 11x22, so 100 columns make a
/// picture about 1100 pixels wide, sharp on a phone.
const FONT_PX: f32 = 22.0;
/// The slant of italic text (synthesized: the bundled fonts have no italic face).
const ITALIC_SLANT: f32 = 0.2;

const BACKGROUND: Rgb = Rgb(30, 30, 30);
const FOREGROUND: Rgb = Rgb(212, 212, 212);
/// The margin around the cells, in pixels.
const MARGIN: usize = 8;

/// The 16 colours, as xterm draws them.
const ANSI: [Rgb; 16] = [
    Rgb(0, 0, 0),
    Rgb(205, 0, 0),
    Rgb(0, 205, 0),
    Rgb(205, 205, 0),
    Rgb(0, 0, 238),
    Rgb(205, 0, 205),
    Rgb(0, 205, 205),
    Rgb(229, 229, 229),
    Rgb(127, 127, 127),
    Rgb(255, 0, 0),
    Rgb(0, 255, 0),
    Rgb(255, 255, 0),
    Rgb(92, 92, 255),
    Rgb(255, 0, 255),
    Rgb(0, 255, 255),
    Rgb(255, 255, 255),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `self` over `under` with coverage `a` (0..=1).
    fn over(self, under: Rgb, a: f32) -> Rgb {
        let mix = |f: u8, b: u8| (f32::from(b) + (f32::from(f) - f32::from(b)) * a).round() as u8;
        Rgb(
            mix(self.0, under.0),
            mix(self.1, under.1),
            mix(self.2, under.2),
        )
    }
}

/// A colour of the 256-colour palette.
pub fn palette(index: u8) -> Rgb {
    match index {
        0..=15 => ANSI[index as usize],
        16..=231 => {
            let i = index - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            Rgb(level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        232..=255 => {
            let v = 8 + (index - 232) * 10;
            Rgb(v, v, v)
        }
    }
}

fn colour(c: vt100::Color, default: Rgb) -> Rgb {
    match c {
        vt100::Color::Default => default,
        vt100::Color::Idx(i) => palette(i),
        vt100::Color::Rgb(r, g, b) => Rgb(r, g, b),
    }
}

struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
    fallback: FontRef<'static>,
    /// For symbols neither DejaVu face has.
    symbols: FontRef<'static>,
    scale: PxScale,
    cell_w: usize,
    cell_h: usize,
    /// From the top of a cell to the baseline.
    ascent: f32,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let load = |bytes: &'static [u8]| FontRef::try_from_slice(bytes).expect("a bundled font");
    let regular = load(REGULAR);
    let scale = PxScale::from(FONT_PX);
    let scaled = regular.as_scaled(scale);
    let cell_w = scaled.h_advance(regular.glyph_id('M')).round() as usize;
    let cell_h = (scaled.ascent() - scaled.descent()).ceil() as usize;
    Fonts {
        ascent: scaled.ascent(),
        regular,
        bold: load(BOLD),
        fallback: load(FALLBACK),
        symbols: load(SYMBOLS),
        scale,
        cell_w,
        cell_h,
    }
});

/// An RGB picture.
pub struct Picture {
    pub width: usize,
    pub height: usize,
    /// Rows of RGB triples.
    pub pixels: Vec<u8>,
}

impl Picture {
    fn new(width: usize, height: usize, fill: Rgb) -> Picture {
        let mut pixels = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            pixels.extend_from_slice(&[fill.0, fill.1, fill.2]);
        }
        Picture {
            width,
            height,
            pixels,
        }
    }

    pub fn get(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        Rgb(self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])
    }

    fn set(&mut self, x: usize, y: usize, c: Rgb) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.pixels[i..i + 3].copy_from_slice(&[c.0, c.1, c.2]);
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, c: Rgb) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.set(xx, yy, c);
            }
        }
    }

    /// The picture as a PNG file.
    pub fn png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder.write_header().expect("writing to memory");
        writer
            .write_image_data(&self.pixels)
            .expect("writing to memory");
        writer.finish().expect("writing to memory");
        out
    }

    /// A PNG file read back (for tests and comparisons).
    pub fn from_png(bytes: &[u8]) -> Result<Picture, png::DecodingError> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info()?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf)?;
        let (width, height) = (info.width as usize, info.height as usize);
        let channels = info.color_type.samples();
        let mut pixels = Vec::with_capacity(width * height * 3);
        for px in buf[..info.buffer_size()].chunks(channels) {
            match channels {
                1 | 2 => pixels.extend_from_slice(&[px[0], px[0], px[0]]),
                _ => pixels.extend_from_slice(&px[..3]),
            }
        }
        Ok(Picture {
            width,
            height,
            pixels,
        })
    }
}

/// A glyph's coverage, rasterized once per render.
struct Bitmap {
    /// Offset of the bitmap from the cell's top left.
    left: i32,
    top: i32,
    width: usize,
    height: usize,
    coverage: Vec<f32>,
}

/// What a character is drawn with.
enum Shape {
    Glyph(Bitmap),
    /// No bundled font has it: a visible box.
    Missing,
    Blank,
}

/// The picture of `screen` as a terminal shows it.
pub fn render(screen: &vt100::Screen) -> Picture {
    let f = &*FONTS;
    let (rows, cols) = screen.size();
    let (rows, cols) = (usize::from(rows.get()), usize::from(cols.get()));
    let mut picture = Picture::new(
        cols * f.cell_w + 2 * MARGIN,
        rows * f.cell_h + 2 * MARGIN,
        BACKGROUND,
    );
    let mut shapes: HashMap<(String, bool, bool, usize), Shape> = HashMap::new();
    let cursor = (!screen.hide_cursor()).then(|| screen.cursor_position());
    for row in 0..rows {
        for col in 0..cols {
            let Some(cell) = screen.cell(row as u16, col as u16) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let span = if cell.is_wide() { 2 } else { 1 };
            let mut fg = colour(cell.fgcolor(), FOREGROUND);
            let mut bg = colour(cell.bgcolor(), BACKGROUND);
            if cell.inverse() {
                std::mem::swap(&mut fg, &mut bg);
            }
            if cursor == Some((row as u16, col as u16)) {
                // A block cursor: the cell inverted.
                std::mem::swap(&mut fg, &mut bg);
            }
            if cell.dim() {
                fg = fg.over(bg, 0.5);
            }
            let x = MARGIN + col * f.cell_w;
            let y = MARGIN + row * f.cell_h;
            let w = span * f.cell_w;
            picture.fill(x, y, w, f.cell_h, bg);
            let text = cell.contents();
            let key = (text.to_string(), cell.bold(), cell.italic(), span);
            let shape = shapes
                .entry(key)
                .or_insert_with(|| shape(f, text, cell.bold(), cell.italic(), span));
            match shape {
                Shape::Glyph(b) => {
                    for by in 0..b.height {
                        for bx in 0..b.width {
                            let a = b.coverage[by * b.width + bx];
                            if a <= 0.0 {
                                continue;
                            }
                            let px = x as i32 + b.left + bx as i32;
                            let py = y as i32 + b.top + by as i32;
                            if px < 0 || py < 0 {
                                continue;
                            }
                            let (px, py) = (px as usize, py as usize);
                            if px >= picture.width || py >= picture.height {
                                continue;
                            }
                            let under = picture.get(px, py);
                            picture.set(px, py, fg.over(under, a.min(1.0)));
                        }
                    }
                }
                Shape::Missing => {
                    // A box inside the cell(s), so the character is visibly not a blank.
                    let (x0, y0) = (x + 2, y + 3);
                    let (x1, y1) = (x + w - 3, y + f.cell_h - 4);
                    for xx in x0..=x1 {
                        picture.set(xx, y0, fg);
                        picture.set(xx, y1, fg);
                    }
                    for yy in y0..=y1 {
                        picture.set(x0, yy, fg);
                        picture.set(x1, yy, fg);
                    }
                }
                Shape::Blank => {}
            }
            if cell.underline() {
                let uy = y + (f.ascent.round() as usize + 2).min(f.cell_h - 1);
                picture.fill(x, uy, w, 1, fg);
            }
        }
    }
    picture
}

/// The characters of `screen` no bundled font has and no code draws: each would show as
/// the missing-glyph box (for the test that keeps their count at zero).
pub fn missing_glyphs(screen: &vt100::Screen) -> Vec<String> {
    let f = &*FONTS;
    let (rows, cols) = screen.size();
    let mut missing = std::collections::BTreeSet::new();
    for row in 0..rows.get() {
        for col in 0..cols.get() {
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            let text = cell.contents();
            if text.trim().is_empty() || missing.contains(text) {
                continue;
            }
            let span = if cell.is_wide() { 2 } else { 1 };
            if matches!(shape(f, text, cell.bold(), false, span), Shape::Missing) {
                missing.insert(text.to_string());
            }
        }
    }
    missing.into_iter().collect()
}

/// The PNG of `screen`.
pub fn render_png(screen: &vt100::Screen) -> Vec<u8> {
    render(screen).png()
}

/// Rasterizes `text` (a cell's contents: a character and its combining marks) for a
/// cell `span` columns wide.
fn shape(f: &Fonts, text: &str, bold: bool, italic: bool, span: usize) -> Shape {
    if text.trim().is_empty() {
        return Shape::Blank;
    }
    let mut cover: HashMap<(i32, i32), f32> = HashMap::new();
    let width = (span * f.cell_w) as f32;
    for ch in text.chars() {
        let primary = if bold { &f.bold } else { &f.regular };
        let found = [primary, &f.fallback, &f.symbols]
            .into_iter()
            .map(|font| (font, font.glyph_id(ch)))
            .find(|(_, id)| id.0 != 0);
        let Some((font, id)): Option<(&FontRef, GlyphId)> = found else {
            // A combining mark nobody has is skipped; a base character is boxed.
            if cover.is_empty() {
                return Shape::Missing;
            }
            continue;
        };
        // Centred in the cell(s): the fallback fonts are proportional; a symbol wider
        // than its cells is made smaller to fit them.
        let mut scale = f.scale;
        let advance = font.as_scaled(scale).h_advance(id);
        if advance > width {
            scale = PxScale::from(FONT_PX * width / advance);
        }
        let advance = font.as_scaled(scale).h_advance(id);
        let x = ((width - advance) / 2.0).max(0.0);
        let glyph = id.with_scale_and_position(scale, point(x, f.ascent));
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, c| {
            let px = bounds.min.x + gx as f32;
            let py = bounds.min.y + gy as f32;
            let slant = if italic {
                ((f.ascent - py) * ITALIC_SLANT).round()
            } else {
                0.0
            };
            let e = cover.entry(((px + slant) as i32, py as i32)).or_default();
            *e = (*e + c).min(1.0);
        });
    }
    if cover.is_empty() {
        return Shape::Blank;
    }
    let left = cover.keys().map(|k| k.0).min().unwrap_or(0);
    let top = cover.keys().map(|k| k.1).min().unwrap_or(0);
    let right = cover.keys().map(|k| k.0).max().unwrap_or(0);
    let bottom = cover.keys().map(|k| k.1).max().unwrap_or(0);
    let (bw, bh) = ((right - left + 1) as usize, (bottom - top + 1) as usize);
    let mut coverage = vec![0.0; bw * bh];
    for ((x, y), c) in cover {
        coverage[(y - top) as usize * bw + (x - left) as usize] = c;
    }
    Shape::Glyph(Bitmap {
        left,
        top,
        width: bw,
        height: bh,
        coverage,
    })
}

/// The size of a cell in pixels (width, height).
pub fn cell_size() -> (usize, usize) {
    (FONTS.cell_w, FONTS.cell_h)
}

/// The cell at column `col`, row `row`: its top-left pixel.
pub fn cell_origin(col: usize, row: usize) -> (usize, usize) {
    (MARGIN + col * FONTS.cell_w, MARGIN + row * FONTS.cell_h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(bytes: &[u8]) -> vt100::Parser {
        let n = |v: u16| std::num::NonZeroU16::new(v).unwrap();
        let mut p = vt100::Parser::new(n(4), n(12), 0);
        p.process(bytes);
        p
    }

    /// The pixels of cell (col, row) that differ from `bg`.
    fn inked(p: &Picture, col: usize, row: usize, span: usize, bg: Rgb) -> Vec<Rgb> {
        let (w, h) = cell_size();
        let (x, y) = cell_origin(col, row);
        let mut out = Vec::new();
        for yy in y..y + h {
            for xx in x..x + w * span {
                let c = p.get(xx, yy);
                if c != bg {
                    out.push(c);
                }
            }
        }
        out
    }

    #[test]
    fn colours_attributes_and_the_cursor_are_drawn() {
        // Red on default, a 256-colour background, RGB text, inverse, underline.
        let p = screen(b"\x1b[?25l\x1b[31mA\x1b[0m\x1b[48;5;21m \x1b[0m\x1b[38;2;0;200;0mB\x1b[0m\x1b[7mC\x1b[0m\x1b[4m \x1b[0m");
        let pic = render(p.screen());
        assert!(inked(&pic, 0, 0, 1, BACKGROUND).contains(&ANSI[1]), "red A");
        let (x, y) = cell_origin(1, 0);
        assert_eq!(pic.get(x + 1, y + 1), palette(21), "256-colour background");
        assert!(
            inked(&pic, 2, 0, 1, BACKGROUND).contains(&Rgb(0, 200, 0)),
            "RGB B"
        );
        let (x, y) = cell_origin(3, 0);
        assert_eq!(
            pic.get(x, y),
            FOREGROUND,
            "inverse: the background is the foreground"
        );
        let (x, y) = cell_origin(4, 0);
        let (_, h) = cell_size();
        assert!(
            (y..y + h).any(|yy| pic.get(x + 2, yy) == FOREGROUND),
            "underline"
        );
        // The cursor, shown, is a block.
        let p = screen(b"ab");
        let pic = render(p.screen());
        let (x, y) = cell_origin(2, 0);
        assert_eq!(pic.get(x + 1, y + 1), FOREGROUND);
    }

    #[test]
    fn bold_dim_and_italic_differ_from_plain() {
        let plain = render(screen(b"\x1b[?25lM").screen());
        for (what, bytes) in [
            ("bold", &b"\x1b[?25l\x1b[1mM"[..]),
            ("dim", b"\x1b[?25l\x1b[2mM"),
            ("italic", b"\x1b[?25l\x1b[3mM"),
        ] {
            let other = render(screen(bytes).screen());
            assert_ne!(
                inked(&plain, 0, 0, 1, BACKGROUND),
                inked(&other, 0, 0, 1, BACKGROUND),
                "{what}"
            );
        }
    }

    #[test]
    fn claude_codes_symbols_are_glyphs_inside_their_cell_and_only_the_unknown_is_a_box() {
        let f = &*FONTS;
        // ⎿ under each tool call, ⏵⏵ and ⏸ in the footer, ⏺ before answers on macOS.
        for ch in ["⎿", "⏵", "⏸", "⏺", "✻"] {
            let Shape::Glyph(b) = shape(f, ch, false, false, 1) else {
                panic!("{ch} has no glyph");
            };
            assert!(
                b.left >= 0 && b.left as usize + b.width <= f.cell_w,
                "{ch} leaves its cell"
            );
            let parser = screen(format!("\x1b[?25l{ch}").as_bytes());
            assert!(missing_glyphs(parser.screen()).is_empty(), "{ch}");
        }
        // A private-use character no font has: the box, and counted.
        let parser = screen("\x1b[?25l\u{e000}".as_bytes());
        assert_eq!(
            missing_glyphs(parser.screen()),
            vec!["\u{e000}".to_string()]
        );
    }

    #[test]
    fn box_drawing_wide_characters_and_missing_glyphs_are_never_gaps() {
        // A horizontal rule reaches both edges of its cell, so rules join.
        let pic = render(screen("\x1b[?25l───".as_bytes()).screen());
        let (w, h) = cell_size();
        let (x, y) = cell_origin(1, 0);
        let ink_row = (y..y + h)
            .find(|yy| pic.get(x + w / 2, *yy) != BACKGROUND)
            .expect("the rule is drawn");
        assert_ne!(pic.get(x, ink_row), BACKGROUND);
        assert_ne!(pic.get(x + w - 1, ink_row), BACKGROUND);
        // A wide character covers two cells; an emoji no bundled font has is a box.
        for text in ["\x1b[?25l中", "\x1b[?25l🦀"] {
            let pic = render(screen(text.as_bytes()).screen());
            let ink = inked(&pic, 0, 0, 2, BACKGROUND);
            assert!(!ink.is_empty(), "{text:?} drawn");
            let right: Vec<Rgb> = inked(&pic, 1, 0, 1, BACKGROUND);
            assert!(!right.is_empty(), "{text:?} spans its second cell");
        }
    }

    #[test]
    fn the_png_reads_back_as_the_picture() {
        let pic = render(screen(b"hello").screen());
        let back = Picture::from_png(&pic.png()).unwrap();
        assert_eq!((back.width, back.height), (pic.width, pic.height));
        assert!(back.pixels == pic.pixels);
    }
}
