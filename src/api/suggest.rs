//! "Did you mean …?": the closest candidate to a misspelt name.

/// The candidate closest to `word` by edit distance (ignoring case), when it is close enough to
/// be a typo: at most 1 edit for short words, 2 for medium, 3 for long ones.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    let limit = match word.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting an adjacent swap as one edit (typing "teh").
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 0..a.len() {
        let mut cur = vec![i + 1; b.len() + 1];
        for j in 0..b.len() {
            let cost = usize::from(a[i] != b[j]);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                cur[j + 1] = cur[j + 1].min(prev2[j - 1] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_not_strangers() {
        let fields = ["imagePullPolicy", "image", "name", "ports"];
        assert_eq!(closest("imagePullPolcy", fields), Some("imagePullPolicy"));
        assert_eq!(closest("prots", fields), Some("ports"));
        assert_eq!(closest("NAME", fields), Some("name"));
        assert_eq!(closest("volumes", fields), None);
        assert_eq!(edit_distance("SIMPLEX", "SIMPLE"), 1);
        assert_eq!(edit_distance("wieght", "weight"), 1);
    }
}
