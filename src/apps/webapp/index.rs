//! webapp's home page (`GET /`): the first four catalog items and forum users, or a notice
//! that the service is not available, and a small picture of who calls whom coloured by
//! health, like the original's `views/index.html` (without its CDN scripts).

use super::gostruct::{CATALOG_ITEM, COMPANY, GoValue, USER};

/// The stylesheet the page links (`/static/css/main.css`).
pub const MAIN_CSS: &str = "body { font-family: sans-serif; margin: 0; }\n\
.hero { color: #fff; padding: 2rem 3rem; \
background-image: linear-gradient(135deg, rgba(81,107,170,.8) 0%, rgba(125,198,242,.8) 100%); }\n\
.section { padding: 2rem 3rem; background-color: #faf6fb; }\n\
.cards { display: flex; gap: 2rem; }\n.card { flex: 1; background: #fff; padding: 1rem; }\n\
.healthy { color: #99D568; } .down { color: #AD0505; }\n\
table { border-collapse: collapse; } th, td { border: 1px solid #ddd; padding: .3rem .6rem; }\n";

const CATALOG_DOWN: &str = "The catalog service is currently not available.";
const FORUM_DOWN: &str = "The forum service is currently not available.";

/// The page for what the two calls returned (`None`: the call failed).
pub fn page(catalog: Option<&[GoValue]>, users: Option<&[GoValue]>) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"UTF-8\">\n  \
         <title>Web App - Istio in Action</title>\n  \
         <link rel=\"stylesheet\" href=\"/static/css/main.css\">\n</head>\n<body>\n\
         <section class=\"hero\">\n  <p>Istio in Action</p>\n  <h1>Service Graph</h1>\n  <p>",
    );
    html.push_str(&format!(
        "client &rarr; Web App &rarr; <span class=\"{}\">Catalog</span>, \
         <span class=\"{}\">Forum</span>",
        health(catalog.is_some()),
        health(users.is_some())
    ));
    html.push_str(
        "</p>\n</section>\n<section class=\"section\">\n<h1>Service data</h1>\n<div class=\"cards\">\n",
    );
    html.push_str(&card(
        "Data from the Catalog service",
        ["Product", "Color", "Price"],
        catalog.map(|items| rows(items, catalog_row)),
        CATALOG_DOWN,
    ));
    html.push_str(&card(
        "Data from the Forum service",
        ["Name", "Email", "Company"],
        users.map(|users| rows(users, user_row)),
        FORUM_DOWN,
    ));
    html.push_str(
        "</div>\n</section>\n<footer><p>Sample application for Istio in Action \
         (<a href=\"https://istioinaction.io\">istioinaction.io</a>)</p></footer>\n\
         </body>\n</html>\n",
    );
    html
}

fn health(up: bool) -> &'static str {
    if up { "healthy" } else { "down" }
}

/// At most four rows, as the original's `limitAtFour`.
fn rows(values: &[GoValue], row: impl Fn(&GoValue) -> [String; 3]) -> Vec<[String; 3]> {
    values.iter().take(4).map(row).collect()
}

fn catalog_row(item: &GoValue) -> [String; 3] {
    ["name", "color", "price"].map(|f| item.text(CATALOG_ITEM, f))
}

fn user_row(user: &GoValue) -> [String; 3] {
    let company = user
        .get(USER, "company")
        .map(|c| c.text(COMPANY, "name"))
        .unwrap_or_default();
    [user.text(USER, "name"), user.text(USER, "email"), company]
}

fn card(title: &str, columns: [&str; 3], rows: Option<Vec<[String; 3]>>, down: &str) -> String {
    let mut html = format!("<div class=\"card\">\n<h2>{title}</h2>\n");
    match rows {
        None => html.push_str(&format!("<p>{down}</p>\n")),
        Some(rows) => {
            html.push_str("<table>\n<thead><tr>");
            for column in columns {
                html.push_str(&format!("<th>{column}</th>"));
            }
            html.push_str("</tr></thead>\n<tbody>\n");
            for [first, second, third] in rows {
                html.push_str(&format!(
                    "<tr><th>{}</th><td>{}</td><td>{}</td></tr>\n",
                    escape(&first),
                    escape(&second),
                    escape(&third)
                ));
            }
            html.push_str("</tbody>\n</table>\n");
        }
    }
    html.push_str("</div>\n");
    html
}

/// `html/template`'s escaping of text.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::webapp::gostruct::decode_slice;

    #[test]
    fn lists_four_items_and_reports_a_missing_forum() {
        let items = br#"[{"id":1,"name":"A<b>","color":"c","price":"1"},{"id":2},{"id":3},{"id":4},{"id":5,"name":"fifth"}]"#;
        let items = decode_slice(items, CATALOG_ITEM).unwrap().unwrap();
        let html = page(Some(&items), None);
        assert!(html.contains("<tr><th>A&lt;b&gt;</th><td>c</td><td>1</td></tr>"));
        assert!(!html.contains("fifth"));
        assert!(html.contains(FORUM_DOWN));
        assert!(html.contains("<span class=\"down\">Forum</span>"));
        let html = page(None, Some(&[]));
        assert!(html.contains(CATALOG_DOWN));
    }
}
