use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::net::dial::TcpDialer;

const LIMIT: Duration = Duration::from_secs(10);

async fn start(service: Service, env: &[(&str, String)], stop: &CancellationToken) -> SocketAddr {
    let listener = crate::net::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let app = App::new(
        service,
        &env,
        "pod-1",
        Arc::new(TcpDialer::default()),
        Arc::new(|_: &str| {}),
    );
    tokio::spawn(serve(listener, app, stop.child_token()));
    addr
}

async fn http(addr: SocketAddr, raw: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(LIMIT, stream.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

async fn get(addr: SocketAddr, path: &str, extra: &str) -> String {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"),
    )
    .await
}

/// The whole app on ephemeral ports: productpage → details, reviews (version given) → ratings.
async fn bookinfo(reviews: ReviewsVersion, stop: &CancellationToken) -> SocketAddr {
    let ratings = start(Service::Ratings, &[], stop).await;
    let details = start(Service::Details, &[], stop).await;
    let reviews = start(
        Service::Reviews(reviews),
        &[
            ("RATINGS_HOSTNAME", "127.0.0.1".into()),
            ("RATINGS_SERVICE_PORT", ratings.port().to_string()),
        ],
        stop,
    )
    .await;
    start(
        Service::Productpage,
        &[
            ("DETAILS_HOSTNAME", "127.0.0.1".into()),
            ("DETAILS_SERVICE_PORT", details.port().to_string()),
            ("REVIEWS_HOSTNAME", "127.0.0.1".into()),
            ("REVIEWS_SERVICE_PORT", reviews.port().to_string()),
        ],
        stop,
    )
    .await
}

#[tokio::test]
async fn reviews_versions_show_as_no_black_and_red_stars() {
    let stop = CancellationToken::new();
    for (version, color, stars) in [
        (ReviewsVersion::V1, None, 0),
        (ReviewsVersion::V2, Some("black"), 9),
        (ReviewsVersion::V3, Some("red"), 9),
    ] {
        let page = get(bookinfo(version, &stop).await, "/productpage", "").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("The Comedy of Errors"), "{page}");
        assert!(
            page.contains(
                "<td class=\"whitespace-nowrap px-2 py-2 text-sm text-gray-500\">PublisherA</td>"
            ),
            "{page}"
        );
        assert!(
            page.contains("Reviews served by: \n                  pod-1"),
            "{page}"
        );
        assert_eq!(
            page.matches("id=\"glyphicon glyphicon-star\"").count(),
            stars,
            "{version:?}"
        );
        if let Some(color) = color {
            assert_eq!(
                page.matches(&format!("flex gap-x-1 text-{color}-500"))
                    .count(),
                2
            );
        }
    }
    stop.cancel();
}

#[tokio::test]
async fn failures_show_the_originals_messages() {
    let stop = CancellationToken::new();
    // Nothing listens on these ports.
    let closed = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let reviews = start(
        Service::Reviews(ReviewsVersion::V3),
        &[
            ("RATINGS_HOSTNAME", "127.0.0.1".into()),
            ("RATINGS_SERVICE_PORT", closed()),
        ],
        &stop,
    )
    .await;
    let body = get(reviews, "/reviews/0", "").await;
    assert!(body.ends_with(r#"{"id": "0","podname": "pod-1","clustername": "null","reviews": [{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!", "rating": {"error": "Ratings service is currently unavailable"}},{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.", "rating": {"error": "Ratings service is currently unavailable"}}]}"#), "{body}");
    let page = start(
        Service::Productpage,
        &[
            ("DETAILS_HOSTNAME", "127.0.0.1".into()),
            ("DETAILS_SERVICE_PORT", closed()),
            ("REVIEWS_HOSTNAME", "127.0.0.1".into()),
            ("REVIEWS_SERVICE_PORT", closed()),
        ],
        &stop,
    )
    .await;
    let html = get(page, "/productpage", "").await;
    assert!(html.contains("Error fetching product details"), "{html}");
    assert!(html.contains("Sorry, product details are currently unavailable for this book."));
    assert!(html.contains("Sorry, product reviews are currently unavailable for this book."));
    let metrics = get(page, "/metrics", "").await;
    assert!(
        metrics.contains(
            "request_result_total{destination_app=\"details\",response_code=\"500\"} 1.0\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "request_result_created{destination_app=\"reviews\",response_code=\"500\"} 1."
        ),
        "{metrics}"
    );
    let api = get(page, "/api/v1/products/0/reviews", "").await;
    assert!(api.starts_with("HTTP/1.1 500"), "{api}");
    assert!(
        api.ends_with(
            r#"{"error": "Sorry, product reviews are currently unavailable for this book."}"#
        ),
        "{api}"
    );
    stop.cancel();
}

#[tokio::test]
async fn login_keeps_the_user_and_forwards_end_user() {
    let stop = CancellationToken::new();
    let page = bookinfo(ReviewsVersion::V1, &stop).await;
    let body = "username=jason&passwd=";
    let login = http(
        page,
        &format!("POST /login HTTP/1.1\r\nHost: x\r\nReferer: http://x/productpage\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    )
    .await;
    assert!(login.starts_with("HTTP/1.1 302"), "{login}");
    assert!(login.contains("location: http://x/productpage"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let html = get(page, "/productpage", &format!("Cookie: {cookie}\r\n")).await;
    assert!(
        html.contains("<p class=\"text-base font-medium text-gray-50\">jason</p>"),
        "{html}"
    );
    let logout = get(page, "/logout", "Referer: http://x/productpage\r\n").await;
    assert!(logout.contains("Max-Age=0"), "{logout}");
    let metrics = get(page, "/metrics", "").await;
    assert!(
        metrics.contains(
            "request_result_total{destination_app=\"reviews\",response_code=\"200\"} 1.0\n"
        ),
        "{metrics}"
    );
    let products = get(page, "/api/v1/products", "").await;
    assert!(
        products.contains(r#"[{"id": 0, "title": "The Comedy of Errors", "descriptionHtml": "#),
        "{products}"
    );
    stop.cancel();
}

#[tokio::test]
async fn ratings_and_details_answer_json() {
    let stop = CancellationToken::new();
    let ratings = start(Service::Ratings, &[], &stop).await;
    assert!(
        get(ratings, "/ratings/0", "")
            .await
            .ends_with(r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#)
    );
    assert!(
        get(ratings, "/ratings/x", "")
            .await
            .starts_with("HTTP/1.1 400")
    );
    let details = start(Service::Details, &[], &stop).await;
    let d = get(details, "/details/0", "").await;
    assert!(d.ends_with(r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#), "{d}");
    stop.cancel();
}
