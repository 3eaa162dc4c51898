//! productpage's HTML: the parts of `templates/productpage.html` a reader looks at — the
//! signed-in user or the "Sign in" button, the book, the details table or its error, and each
//! review with its stars (`glyphicon glyphicon-star` SVGs coloured `text-<color>-500`, empty
//! outlines up to five) or the rating's error, and "Reviews served by: <pod>".

use serde_json::Value;

/// What the page shows, as productpage's `front()` hands it to the template.
pub struct View<'a> {
    pub user: &'a str,
    pub product: &'a Value,
    pub details_status: u16,
    pub details: &'a Value,
    pub reviews_status: u16,
    pub reviews: &'a Value,
}

const FULL_STAR: &str = r#"<svg id="glyphicon glyphicon-star" class="h-5 w-5 flex-none" viewBox="0 0 20 20" fill="currentColor" aria-hidden="true">
                <path fill-rule="evenodd" d="M10.868 2.884c-.321-.772-1.415-.772-1.736 0l-1.83 4.401-4.753.381c-.833.067-1.171 1.107-.536 1.651l3.62 3.102-1.106 4.637c-.194.813.691 1.456 1.405 1.02L10 15.591l4.069 2.485c.713.436 1.598-.207 1.404-1.02l-1.106-4.637 3.62-3.102c.635-.544.297-1.584-.536-1.65l-4.752-.382-1.831-4.401z" clip-rule="evenodd" />
              </svg>"#;

const EMPTY_STAR: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" fill="none" viewBox="0 0 24 24" stroke-width="1.5" stroke="currentColor" class="h-5 w-5 flex-none">
                <path stroke-linecap="round" stroke-linejoin="round" d="M11.48 3.499a.562.562 0 0 1 1.04 0l2.125 5.111a.563.563 0 0 0 .475.345l5.518.442c.499.04.701.663.321.988l-4.204 3.602a.563.563 0 0 0-.182.557l1.285 5.385a.562.562 0 0 1-.84.61l-4.725-2.885a.562.562 0 0 0-.586 0L6.982 20.54a.562.562 0 0 1-.84-.61l1.285-5.386a.562.562 0 0 0-.182-.557l-4.204-3.602a.562.562 0 0 1 .321-.988l5.518-.442a.563.563 0 0 0 .475-.345L11.48 3.5Z" />
              </svg>"#;

/// The whole page.
pub fn render(view: &View<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<meta charset=\"utf-8\">\n<meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n\n<title>Simple Bookstore App</title>\n<script src=\"static/tailwind/tailwind.css\"></script>\n\n");
    nav(&mut out, view.user);
    sign_in_dialog(&mut out);
    book(&mut out, view.product);
    details(&mut out, view.details_status, view.details);
    reviews(&mut out, view.reviews_status, view.reviews);
    out
}

fn nav(out: &mut String, user: &str) {
    out.push_str("<nav class=\"bg-gray-800\">\n  <div class=\"container mx-auto px-4 sm:px-6 lg:px-8\">\n    <div class=\"relative flex h-16 items-center justify-between\">\n      <a href=\"#\" class=\"text-white px-3 py-2 text-lg font-medium\" aria-current=\"page\">BookInfo Sample</a>\n      <div class=\"absolute inset-y-0 right-0 flex items-center pr-2 sm:static sm:inset-auto sm:ml-6 sm:pr-0\">\n");
    if user.is_empty() {
        out.push_str("          <button type=\"button\" id=\"sign-in-button\" class=\"rounded-md bg-blue-600 px-3.5 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-blue-500\">\n            Sign in\n          </button>\n");
    } else {
        out.push_str(&format!(
            "        <a href=\"#\" class=\"group block flex-shrink-0\">\n          <div class=\"flex items-center\">\n            <div class=\"ml-4\">\n              <p class=\"text-base font-medium text-gray-50\">{}</p>\n              <a href=\"logout\" class=\"text-xs font-medium text-gray-400 hover:text-gray-300\">Sign out</a>\n            </div>\n          </div>\n        </a>\n",
            escape(user)
        ));
    }
    out.push_str("      </div>\n    </div>\n  </div>\n</nav>\n\n");
}

fn sign_in_dialog(out: &mut String) {
    out.push_str("<!-- Sign in dialog -->\n<dialog id=\"dialog\" class=\"w-full sm:w-2/3 lg:w-1/3 border rounded-md shadow-xl\">\n  <div class=\"flex min-h-full flex-col justify-center px-6 py-12 lg:px-8\">\n    <h2 class=\"mt-5 text-center text-2xl font-bold leading-9 tracking-tight text-gray-900\">Sign in to BookInfo</h2>\n    <form class=\"space-y-6\" method=\"post\" action='login' name=\"login_form\">\n      <label for=\"email\" class=\"block text-sm font-medium leading-6 text-gray-900\">Username</label>\n      <input id=\"username\" name=\"username\" required>\n      <label for=\"password\" class=\"block text-sm font-medium leading-6 text-gray-900\">Password</label>\n      <input id=\"password\" name=\"passwd\" type=\"password\" required>\n      <button type=\"submit\" class=\"flex w-full justify-center rounded-md bg-blue-600 px-3 py-1.5 text-sm font-semibold leading-6 text-white\">Sign in</button>\n    </form>\n  </div>\n</dialog>\n\n");
}

fn book(out: &mut String, product: &Value) {
    // The description is HTML on purpose (`autoescape false` in the template).
    out.push_str(&format!(
        "<!-- Book description section -->\n<div class=\"container mt-8 mx-auto px-4 sm:px-6 lg:px-8\">\n  <h1 class=\"text-5xl font-bold tracking-tight text-blue-900\">{}</h1>\n  <div class=\"mt-6 max-w-4xl\">\n    <p class=\"mt-6 text-xl leading-8 text-gray-600\">{}</p>\n  </div>\n</div>\n\n",
        escape(&field(product, "title")),
        field(product, "descriptionHtml")
    ));
}

fn details(out: &mut String, status: u16, details: &Value) {
    out.push_str("<!-- Book details table -->\n<div class=\"container mt-8 mx-auto px-4 sm:px-6 lg:px-8\">\n  <div class=\"mt-4 py-10\">\n");
    if status == 200 {
        out.push_str("          <h4 class=\"text-3xl font-semibold\">Book Details</h4>\n              <table class=\"min-w-full divide-y divide-gray-300\">\n                <thead>\n                  <tr>\n                    <th scope=\"col\">ISBN-10</th>\n                    <th scope=\"col\">Publisher</th>\n                    <th scope=\"col\">Pages</th>\n                    <th scope=\"col\">Type</th>\n                    <th scope=\"col\">Language</th>\n                  </tr>\n                </thead>\n                <tbody class=\"divide-y divide-gray-200 bg-white\">\n                  <tr>\n");
        for name in ["ISBN-10", "publisher", "pages", "type", "language"] {
            out.push_str(&format!(
                "                    <td class=\"whitespace-nowrap px-2 py-2 text-sm text-gray-500\">{}</td>\n",
                escape(&field(details, name))
            ));
        }
        out.push_str("                  </tr>\n                </tbody>\n              </table>\n");
    } else {
        out.push_str(
            "          <p class=\"text-2xl text-red-500\">Error fetching product details</p>\n",
        );
        out.push_str(&format!(
            "          <p class=\"text-lg text-gray-600\">{}</p>\n",
            escape(&field(details, "error"))
        ));
    }
    out.push_str("  </div>\n</div>\n\n");
}

fn reviews(out: &mut String, status: u16, reviews: &Value) {
    out.push_str("<!-- Book reviews section -->\n<div class=\"bg-blue-600/5 py-12 mx-auto\" >\n  <div class=\"container mx-auto px-4 sm:px-6 lg:px-8\">\n    <div class=\"max-w-2xl\">\n");
    if status != 200 {
        out.push_str(
            "      <p class=\"text-2xl text-red-500\">Error fetching product reviews</p>\n",
        );
        out.push_str(&format!(
            "      <p class=\"text-lg text-gray-600\">{}</p>\n",
            escape(&field(reviews, "error"))
        ));
        out.push_str("    </div>\n  </div>\n</div>\n");
        return;
    }
    out.push_str("      <h4 class=\"text-3xl font-semibold\">Book Reviews</h4>\n      <div class=\"flex flex-col md:flex-row\">\n");
    let pod = field(reviews, "podname");
    let cluster = field(reviews, "clustername");
    for review in reviews["reviews"].as_array().into_iter().flatten() {
        out.push_str("        <section class=\"px-6 py-12 sm:py-8 lg:px-8\">\n          <div class=\"mx-auto max-w-2xl\">\n");
        rating(out, &review["rating"]);
        out.push_str(&format!(
            "            <blockquote class=\"mt-10 text-xl font-semibold leading-8 tracking-tight text-gray-900 sm:text-2xl sm:leading-9\">\n              <p>\"{}\"</p>\n            </blockquote>\n            <div class=\"mt-4 flex items-center gap-x-6\">\n              <div class=\"text-sm leading-6\">\n                <div class=\"font-semibold text-gray-900\">{}</div>\n                <div class=\"mt-0.5 text-gray-600 font-mono\">Reviews served by: \n                  {}\n",
            escape(&field(review, "text")),
            escape(&field(review, "reviewer")),
            escape(&pod)
        ));
        if cluster != "null" {
            out.push_str(&format!(
                "                  on cluster <div>{}</div>\n",
                escape(&cluster)
            ));
        }
        out.push_str("                </div>\n              </div>\n            </div>\n          </div>\n        </section>\n");
    }
    out.push_str("      </div>\n    </div>\n  </div>\n</div>\n");
}

/// Stars when the rating has some, its error when it has one, nothing otherwise.
fn rating(out: &mut String, rating: &Value) {
    let stars = rating["stars"].as_i64().unwrap_or(0).clamp(0, 5);
    if stars > 0 {
        out.push_str(&format!(
            "            <div class=\"flex gap-x-1 text-{}-500\">\n",
            escape(&field(rating, "color"))
        ));
        for _ in 0..stars {
            out.push_str("              ");
            out.push_str(FULL_STAR);
            out.push('\n');
        }
        for _ in stars..5 {
            out.push_str("              ");
            out.push_str(EMPTY_STAR);
            out.push('\n');
        }
        out.push_str("            </div>\n");
    } else if let Some(error) = rating["error"].as_str().filter(|e| !e.is_empty()) {
        out.push_str(&format!(
            "            <p class=\"text-red-500\">{}</p>\n",
            escape(error)
        ));
    }
}

/// A field as Jinja prints it (strings bare, numbers as written, missing as empty).
fn field(value: &Value, name: &str) -> String {
    match &value[name] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Jinja's autoescape.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
