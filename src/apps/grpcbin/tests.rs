use super::*;

#[test]
fn health_and_messages() {
    assert_eq!(health(""), Some(vec![0x08, 0x01]));
    assert_eq!(health("nope"), None);
    let idx = index();
    let f = proto::fields(&idx).unwrap();
    assert!(f.iter().filter(|(n, _)| *n == 2).count() >= 7);
    let mut h = HeaderMap::new();
    h.insert("x-a", HeaderValue::from_static("1"));
    let m = headers_message(&h);
    let f = proto::fields(&m).unwrap();
    let Some(Value::Bytes(entry)) = proto::field(&f, 1) else {
        panic!("entry")
    };
    let e = proto::fields(entry).unwrap();
    assert_eq!(proto::field(&e, 1).and_then(|v| v.as_str()), Some("x-a"));
}
