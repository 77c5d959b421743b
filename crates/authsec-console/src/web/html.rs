//! Typed HTML output with escaping by default.
//!
//! [`Html`] only takes markup as `&'static str` — text written in this crate — and every other
//! value through [`Html::text`], which escapes `& < > " '`. So a tool name, a description or an
//! annotation from a manifest, or anything an admin typed, can only ever reach the page as text.
//! The [`html!`](crate::web::html!) macro writes a sequence: `"literal"` parts as markup, `{expr}`
//! parts escaped, `[expr]` parts as an already-built [`Html`] fragment.

use std::fmt::{self, Display, Write as _};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// An HTML document or fragment under construction.
#[derive(Debug, Default, Clone)]
pub struct Html(String);

/// Writes into a `String`, escaping HTML's special characters.
struct Escaper<'a>(&'a mut String);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            self.0.push_str(&s[last..i]);
            self.0.push_str(rep);
            last = i + 1;
        }
        self.0.push_str(&s[last..]);
        Ok(())
    }
}

impl Html {
    /// An empty document with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Html(String::with_capacity(n))
    }

    /// Appends markup written in this crate.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Appends a value as text, escaped (safe in element content and in double-quoted
    /// attribute values).
    pub fn text(&mut self, value: impl Display) -> &mut Self {
        // Writing to a String cannot fail.
        let _ = write!(Escaper(&mut self.0), "{value}");
        self
    }

    /// Appends a fragment built the same way.
    pub fn fragment(&mut self, other: &Html) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The markup, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Writes markup and escaped values into an [`Html`]:
/// `html!(out, "<td>" {tool.name} "</td>" [fragment])`.
macro_rules! html {
    (@part $out:ident, $lit:literal) => { $out.raw($lit); };
    (@part $out:ident, {$e:expr}) => { $out.text(&$e); };
    (@part $out:ident, [$e:expr]) => { $out.fragment(&$e); };
    ($out:expr, $($part:tt)*) => {{
        let out: &mut $crate::web::html::Html = &mut $out;
        $( $crate::web::html::html!(@part out, $part); )*
    }};
}
pub(crate) use html;

/// Characters kept as they are in a path segment or query value; everything else is
/// percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A value percent-encoded for a URL path segment or query component.
pub fn url_component(value: &str) -> impl Display + '_ {
    utf8_percent_encode(value, COMPONENT)
}

/// `2026-11-01 12:34 UTC` for Unix seconds.
pub fn datetime(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// `just now`, `5 min ago`, `3 h ago`, `2 days ago` (relative to `now`).
pub fn ago(unix: i64, now: i64) -> String {
    let d = (now - unix).max(0);
    match d {
        0..=9 => "just now".to_owned(),
        10..=59 => format!("{d} s ago"),
        60..=3599 => format!("{} min ago", d / 60),
        3600..=86_399 => format!("{} h ago", d / 3600),
        _ => format!("{} days ago", d / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_not() {
        let mut h = Html::default();
        let name = "<img src=x onerror=alert(1)>\"'&";
        html!(h, "<td title=\"" {name} "\">" {name} "</td>");
        assert_eq!(
            h.as_str(),
            "<td title=\"&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;\">\
             &lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;</td>"
        );
    }

    #[test]
    fn url_components_are_percent_encoded() {
        assert_eq!(
            url_component("a b/c?d&e=\"<").to_string(),
            "a%20b%2Fc%3Fd%26e%3D%22%3C"
        );
        assert_eq!(
            url_component("rs-1:tools.x_y~").to_string(),
            "rs-1%3Atools.x_y~"
        );
    }

    #[test]
    fn datetimes_are_utc_calendar_dates() {
        assert_eq!(datetime(0), "1970-01-01 00:00 UTC");
        assert_eq!(datetime(1_793_536_496), "2026-11-01 12:34 UTC");
        assert_eq!(datetime(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn ages_are_rounded_down() {
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(100, 130), "30 s ago");
        assert_eq!(ago(0, 7200), "2 h ago");
    }
}
