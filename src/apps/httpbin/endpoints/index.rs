//! `/`: a short HTML page listing what this httpbin answers.

use http::{Response, StatusCode};

use super::super::{Body, reply};

const ENDPOINTS: &[(&str, &str)] = &[
    ("/headers", "the request's headers"),
    ("/get", "GET data: args, headers, origin, url"),
    ("/post", "POST data (also /put, /patch, /delete)"),
    ("/anything", "whatever was sent, any method"),
    (
        "/status/418",
        "a status code, or a weighted list: /status/200:0.9,503:0.1",
    ),
    (
        "/delay/1",
        "answer after n seconds (at most 10, fractions allowed)",
    ),
    ("/ip", "the caller's address"),
    ("/uuid", "a UUID4"),
    ("/user-agent", "the User-Agent header"),
    (
        "/response-headers?X-Test=1",
        "query arguments as response headers",
    ),
    ("/bytes/16", "n random bytes (?seed=)"),
    ("/stream/3", "n JSON lines, streamed"),
    ("/redirect/3", "302 n times, then /get"),
    ("/redirect-to?url=/get", "302 to the given URL"),
    (
        "/cookies",
        "the request's cookies (/cookies/set?k=v, /cookies/delete?k)",
    ),
];

pub fn index() -> Response<Body> {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>httpbin</title></head>\n\
         <body>\n<h1>httpbin</h1>\n<p>HTTP request &amp; response service \
         (mesh's built-in httpbin, classic httpbin JSON).</p>\n<ul>\n",
    );
    for (path, what) in ENDPOINTS {
        let href = reply::escape_html(path);
        page.push_str(&format!(
            "<li><a href=\"{href}\"><code>{href}</code></a> {what}</li>\n"
        ));
    }
    page.push_str("</ul>\n</body>\n</html>\n");
    reply::html(StatusCode::OK, page)
}
