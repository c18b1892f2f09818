//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `input`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(input, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, candidate)| (*distance, *candidate))
        .map(|(_, candidate)| candidate)
}

/// A help line: the suggestion when there is one, else the list of valid names.
pub(crate) fn help_for<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str> + Clone, what: &str) -> String {
    match closest(input, candidates.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            let names: Vec<String> = candidates.into_iter().map(|name| format!("`{name}`")).collect();
            if names.is_empty() {
                format!("no {what} are declared")
            } else {
                format!("expected one of the {what}: {}", names.join(", "))
            }
        }
    }
}

/// Levenshtein distance over chars.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    let mut current = vec![0; right.len() + 1];
    for (i, left_char) in left.chars().enumerate() {
        current[0] = i + 1;
        for (j, right_char) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != *right_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_near_name_and_not_a_far_one() {
        let names = ["llama-vulkan-radv", "llama-rocm-6.4.4"];
        assert_eq!(closest("llama-vulkan-radw", names), Some("llama-vulkan-radv"));
        assert_eq!(closest("cuda", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn help_lists_candidates_when_nothing_is_close() {
        assert_eq!(help_for("zzz", ["a1", "b2"], "axes"), "expected one of the axes: `a1`, `b2`");
    }
}
