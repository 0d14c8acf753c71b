//! QR codes for the `otpauth://` URI: a PNG for chat platforms, block characters for the terminal.

use qrcode::{Color, EcLevel, QrCode};

const SCALE: usize = 8;
const QUIET: usize = 4;

fn code(text: &str) -> Result<QrCode, String> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| format!("cannot make a QR code: {e}"))
}

/// A black-on-white PNG, 8 pixels per module, with the standard 4-module quiet zone.
pub fn png(text: &str) -> Result<Vec<u8>, String> {
    let qr = code(text)?;
    let width = qr.width();
    let colors = qr.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = ((i % width + QUIET) * SCALE, (i / width + QUIET) * SCALE);
            for dy in 0..SCALE {
                pixels[(y + dy) * side + x..(y + dy) * side + x + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).map_err(|_| "QR code too large".to_string())?;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Two modules per character cell using half blocks, light on dark terminals and dark on light alike
/// (the quiet zone is drawn).
pub fn unicode(text: &str) -> Result<String, String> {
    let qr = code(text)?;
    let width = qr.width();
    let colors = qr.to_colors();
    let dark = |x: isize, y: isize| -> bool {
        let w = width as isize;
        x >= 0 && y >= 0 && x < w && y < w && colors[(y * w + x) as usize] == Color::Dark
    };
    let q = QUIET as isize / 2;
    let mut out = String::new();
    let mut y = -q;
    while y < width as isize + q {
        for x in -q..width as isize + q {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (false, false) => '█',
                (true, false) => '▄',
                (false, true) => '▀',
                (true, true) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn png_has_the_signature_and_unicode_is_square_ish() {
        let png = super::png("otpauth://totp/x:y?secret=ABC").unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let text = super::unicode("otpauth://totp/x:y?secret=ABC").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 10 && lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
    }
}
