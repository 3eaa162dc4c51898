//! The catalog's data: the four items `server.js` starts with, items added by `POST /items`
//! (ids 5, 6, …), and the stored faults. Items are kept as JSON objects because the original
//! stores whatever body was posted.

use serde_json::{Value, json};

use super::blowup::Blowups;

/// What `faker.image.imageUrl()` returns in faker 4.1 (the catalog image's version): with no
/// arguments it is always this URL, not a random one.
pub const IMAGE_URL: &str = "http://lorempixel.com/640/480";

/// The items a fresh catalog serves; `price` is a string, as in the original.
pub fn initial_items() -> Vec<Value> {
    vec![
        json!({"id": 1, "color": "amber", "department": "Eyewear", "name": "Elinor Glasses", "price": "282.00"}),
        json!({"id": 2, "color": "cyan", "department": "Clothing", "name": "Atlas Shirt", "price": "127.00"}),
        json!({"id": 3, "color": "teal", "department": "Clothing", "name": "Small Metal Shoes", "price": "232.00"}),
        json!({"id": 4, "color": "red", "department": "Watches", "name": "Red Dragon Watch", "price": "232.00"}),
    ]
}

/// Everything a running catalog remembers (lost on restart, like the Node process's memory).
#[derive(Debug, Clone)]
pub struct State {
    pub items: Vec<Value>,
    /// The last id handed out (`auto_increment` in `server.js`).
    pub last_id: u64,
    pub blowups: Blowups,
}

impl Default for State {
    fn default() -> State {
        State {
            items: initial_items(),
            last_id: 4,
            blowups: Blowups::default(),
        }
    }
}

impl State {
    /// `POST /items`: `req.body.id = ++auto_increment; catalogItems.push(req.body)`. An
    /// existing `id` key keeps its place; a new one goes last.
    pub fn add(&mut self, mut body: Value) -> u64 {
        self.last_id += 1;
        if let Value::Object(map) = &mut body {
            map.insert("id".to_owned(), Value::from(self.last_id));
        }
        self.items.push(body);
        self.last_id
    }
}

/// Sets `imageUrl` on an item (v2 with `SHOW_IMAGE` does it on every read).
pub fn show_image(item: &mut Value) {
    if let Value::Object(map) = item {
        map.insert("imageUrl".to_owned(), Value::from(IMAGE_URL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_items_get_the_next_ids() {
        let mut state = State::default();
        assert_eq!(state.add(json!({"name": "Hoop"})), 5);
        assert_eq!(state.add(json!({"id": 99, "name": "Ball"})), 6);
        assert_eq!(state.items[4], json!({"name": "Hoop", "id": 5}));
        let keys: Vec<&String> = state.items[5].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "name"]);
        assert_eq!(state.items[5]["id"], 6);
    }
}
