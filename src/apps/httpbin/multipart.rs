//! A small `multipart/form-data` reader: enough for `curl -F` and browsers. Like Werkzeug's
//! silent mode, a malformed body yields whatever parts were read before the damage.

use bytes::Bytes;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    /// `Some` when the part is a file upload (`filename=` present, even empty).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .filter_map(|param| param.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| unquote(v.trim()))
        .filter(|b| !b.is_empty())
}

/// Splits `body` on `--boundary` lines and reads each part's headers.
pub fn parse(body: &Bytes, boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let Some(mut pos) = find(body, delimiter, 0) else {
        return parts;
    };
    loop {
        let after = pos + delimiter.len();
        // `--boundary--` closes the body.
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let Some(start) = skip_line_end(body, after) else {
            break;
        };
        let Some(next) = find(body, delimiter, start) else {
            break;
        };
        // The CRLF before the next delimiter belongs to the delimiter.
        let mut end = next;
        if end >= start + 2 && &body[end - 2..end] == b"\r\n" {
            end -= 2;
        } else if end > start && body[end - 1] == b'\n' {
            end -= 1;
        }
        if let Some(part) = read_part(&body.slice(start..end)) {
            parts.push(part);
        }
        pos = next;
    }
    parts
}

fn read_part(raw: &Bytes) -> Option<Part> {
    let (head_end, body_start) = match find(raw, b"\r\n\r\n", 0) {
        Some(i) => (i, i + 4),
        None => {
            let i = find(raw, b"\n\n", 0)?;
            (i, i + 2)
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                if let Some((k, v)) = param.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(unquote(v.trim())),
                        "filename" => filename = Some(unquote(v.trim())),
                        _ => {}
                    }
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    Some(Part {
        name: name?,
        filename,
        content_type,
        data: raw.slice(body_start..),
    })
}

fn skip_line_end(body: &[u8], at: usize) -> Option<usize> {
    // Transport padding after the delimiter is allowed before the line break.
    let rest = body.get(at..)?;
    let newline = rest.iter().position(|&b| b == b'\n')?;
    Some(at + newline + 1)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "--XyZ\r\n\
        Content-Disposition: form-data; name=\"field\"\r\n\r\n\
        value 1\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        line1\r\nline2\r\n\
        --XyZ--\r\n";

    #[test]
    fn reads_fields_and_files() {
        let parts = parse(&Bytes::from_static(BODY.as_bytes()), "XyZ");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "field");
        assert_eq!(parts[0].filename, None);
        assert_eq!(&parts[0].data[..], b"value 1");
        assert_eq!(parts[1].name, "upload");
        assert_eq!(parts[1].filename.as_deref(), Some("a.txt"));
        assert_eq!(parts[1].content_type.as_deref(), Some("text/plain"));
        assert_eq!(&parts[1].data[..], b"line1\r\nline2");
    }

    #[test]
    fn boundary_parameter_may_be_quoted() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(
            boundary("multipart/form-data;boundary=----x").as_deref(),
            Some("----x")
        );
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn truncated_body_keeps_complete_parts() {
        let cut = &BODY[..BODY.find("line2").unwrap()];
        let parts = parse(&Bytes::copy_from_slice(cut.as_bytes()), "XyZ");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, "field");
    }

    #[test]
    fn garbage_is_empty() {
        assert!(parse(&Bytes::from_static(b"nothing here"), "XyZ").is_empty());
        assert!(parse(&Bytes::from_static(b"--XyZ"), "XyZ").is_empty());
    }
}
