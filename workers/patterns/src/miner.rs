//! The streaming miner: clusters of messages of one length, found by their
//! first words, joined when enough positions agree.

use std::collections::HashMap;

use crate::mask::{masked_words, WILDCARD};

/// The one configuration, for every source.
#[derive(Debug, Clone, Copy)]
pub struct MinerConfig {
    /// Leading words a cluster is looked up by (after the length).
    pub depth: usize,
    /// Share of a cluster's own words a message must have, in place, to join it.
    pub similarity: f64,
    /// Clusters kept at most; the least recently matched is evicted past it.
    pub max_patterns: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            depth: 2,
            // Tuned on Apache, BGL, HDFS and Hadoop only (docs/patterns.md).
            similarity: 0.7,
            max_patterns: 50_000,
        }
    }
}

/// A pattern: its stable id and its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub id: String,
    pub template: String,
}

/// A cluster as saved, so that a miner started again goes on with the same
/// clusters and ids: its words keep the positions it gave up apart from
/// masked values (they compare differently).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedCluster {
    pub id: String,
    pub words: Vec<String>,
}

impl SavedCluster {
    /// The template this cluster shows.
    pub fn template(&self) -> String {
        template(&self.words)
    }
}

#[derive(Debug)]
struct Cluster {
    id: String,
    words: Vec<String>,
    last_used: u64,
}

/// The miner's state; `add` is all it does.
#[derive(Debug)]
pub struct Miner {
    config: MinerConfig,
    /// Clusters by length and leading words with values as `<*>`, written as
    /// one string ([`group_key`]) so that a lookup allocates nothing.
    groups: HashMap<String, Vec<usize>>,
    /// The buffer lookups write their key into.
    lookup: String,
    clusters: Vec<Option<Cluster>>,
    live: usize,
    clock: u64,
    /// Clusters dropped to keep within `max_patterns`.
    pub evicted: u64,
    /// Clusters created or generalized since [`Miner::take_changed`].
    changed: Vec<usize>,
}

impl Miner {
    pub fn new(config: MinerConfig) -> Self {
        Self {
            config,
            groups: HashMap::new(),
            lookup: String::new(),
            clusters: Vec::new(),
            live: 0,
            clock: 0,
            evicted: 0,
            changed: Vec::new(),
        }
    }

    /// Takes back a cluster saved by an earlier miner (see [`Miner::take_changed`]);
    /// a saved cluster of an id already here replaces it.
    pub fn restore(&mut self, saved: SavedCluster) {
        let mut key = String::new();
        group_key(&mut key, self.config.depth, &saved.words);
        let members = self.groups.entry(key).or_default();
        let existing = members
            .iter()
            .copied()
            .find(|&c| self.clusters[c].as_ref().is_some_and(|k| k.id == saved.id));
        self.clock += 1;
        let cluster = Cluster {
            id: saved.id,
            words: saved.words,
            last_used: self.clock,
        };
        match existing {
            Some(c) => self.clusters[c] = Some(cluster),
            None => {
                members.push(self.clusters.len());
                self.clusters.push(Some(cluster));
                self.live += 1;
                if self.live > self.config.max_patterns {
                    self.evict();
                }
            }
        }
    }

    /// The clusters created or generalized since the last call, to be saved
    /// before anything that used their ids is.
    pub fn take_changed(&mut self) -> Vec<SavedCluster> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.sort_unstable();
        changed.dedup();
        changed
            .into_iter()
            .filter_map(|c| self.clusters[c].as_ref())
            .map(|c| SavedCluster {
                id: c.id.clone(),
                words: c.words.clone(),
            })
            .collect()
    }

    /// Clusters live now.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The pattern of `message`, learning from it.
    pub fn add(&mut self, message: &str) -> Pattern {
        let index = self.cluster_of(message);
        let cluster = self.clusters[index].as_ref().expect("a live cluster");
        Pattern {
            id: cluster.id.clone(),
            template: template(&cluster.words),
        }
    }

    /// The id of `message`'s pattern, learning from it: [`Miner::add`] without
    /// building the template (the live path needs the id only).
    pub fn assign(&mut self, message: &str) -> &str {
        let index = self.cluster_of(message);
        &self.clusters[index].as_ref().expect("a live cluster").id
    }

    /// The cluster `message` joins, or the one it makes.
    fn cluster_of(&mut self, message: &str) -> usize {
        self.clock += 1;
        let words = masked_words(message);
        group_key(&mut self.lookup, self.config.depth, &words);
        // Among equal scores the cluster with more words of its own wins: a
        // message read again (redelivered, or after a restore) goes back to the
        // cluster it made, not to an older one that has since generalized enough
        // to take it too, so reading a message twice does not move it.
        let mut best: Option<(usize, (f64, usize))> = None;
        for &c in self.groups.get(&self.lookup).into_iter().flatten() {
            let Some(cluster) = &self.clusters[c] else {
                continue;
            };
            let score = similarity(&cluster.words, &words);
            if score.0 >= self.config.similarity && best.is_none_or(|(_, s)| score > s) {
                best = Some((c, score));
            }
        }
        match best {
            Some((c, _)) => {
                let cluster = self.clusters[c].as_mut().expect("a live cluster");
                let mut generalized = false;
                for (t, w) in cluster.words.iter_mut().zip(&words) {
                    if t != *w && t != GENERALIZED {
                        *t = GENERALIZED.to_owned();
                        generalized = true;
                    }
                }
                cluster.last_used = self.clock;
                if generalized {
                    self.changed.push(c);
                }
                c
            }
            None => {
                let id = stable_id(&words);
                let c = self.clusters.len();
                self.clusters.push(Some(Cluster {
                    id,
                    words: words.iter().map(|w| (*w).to_owned()).collect(),
                    last_used: self.clock,
                }));
                self.groups.entry(self.lookup.clone()).or_default().push(c);
                self.changed.push(c);
                self.live += 1;
                if self.live > self.config.max_patterns {
                    self.evict();
                }
                c
            }
        }
    }

    /// Drops the least recently matched cluster.
    fn evict(&mut self) {
        let oldest = self
            .clusters
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.last_used, i)))
            .min();
        if let Some((_, i)) = oldest {
            self.clusters[i] = None;
            for members in self.groups.values_mut() {
                members.retain(|&m| m != i);
            }
            self.live -= 1;
            self.evicted += 1;
        }
    }
}

/// A cluster's words as shown: positions given up and masked values alike as `<*>`.
fn template(words: &[String]) -> String {
    let shown: Vec<&str> = words
        .iter()
        .map(|w| {
            if w == GENERALIZED {
                WILDCARD
            } else {
                w.as_str()
            }
        })
        .collect();
    shown.join(" ")
}

/// A position the cluster's messages disagree on (shown as `<*>`).
const GENERALIZED: &str = "<~>";

/// Share of the template's own words (neither masked values nor positions it
/// gave up) that the message has in the same places, and how many own words
/// the template has: values say nothing about a message's wording. A template
/// of values only takes any message.
fn similarity(template: &[String], words: &[&str]) -> (f64, usize) {
    let wording = |t: &&String| *t != GENERALIZED && *t != WILDCARD;
    let own = template.iter().filter(wording).count();
    if own == 0 {
        return (1.0, 0);
    }
    let same = template
        .iter()
        .zip(words)
        .filter(|(t, w)| wording(t) && t == *w)
        .count();
    (same as f64 / own as f64, own)
}

/// Writes the key of the group a message of `words` is looked up in: its
/// length and its first `depth` words.
fn group_key<W: AsRef<str>>(key: &mut String, depth: usize, words: &[W]) {
    use std::fmt::Write;
    key.clear();
    let _ = write!(key, "{}", words.len());
    for w in words.iter().take(depth) {
        key.push('\0');
        key.push_str(w.as_ref());
    }
}

/// The id of a cluster first seen as `words`: a hash of them, so that the same
/// stream gives the same ids.
fn stable_id(words: &[&str]) -> String {
    let hash = words.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
        w.bytes()
            .chain(std::iter::once(0))
            .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_one_template_share_a_pattern_that_keeps_its_id() {
        let mut m = Miner::new(MinerConfig::default());
        let a = m.add("login of user alice from web");
        let b = m.add("login of user bob from web");
        assert_eq!(a.id, b.id, "a template that generalizes keeps its id");
        assert_eq!(b.template, "login of user <*> from web");
        let c = m.add("disk full on /dev/sda1");
        assert_ne!(c.id, a.id);
        let mut again = Miner::new(MinerConfig::default());
        for line in ["login of user alice from web", "login of user bob from web"] {
            assert_eq!(again.add(line).id, a.id, "replaying gives the same ids");
        }
    }

    #[test]
    fn a_miner_restored_from_its_changes_goes_on_with_the_same_ids() {
        let lines = [
            "session 1 opened for user alice",
            "session 2 opened for user bob",
            "cache warmed in 30 ms",
            "session 3 opened for user carol",
            "job nightly finished",
            "job hourly finished",
        ];
        let mut whole = Miner::new(MinerConfig::default());
        let expected: Vec<String> = lines.iter().map(|l| whole.add(l).id).collect();

        // Stopped after three lines; only what it saved survives.
        let mut first = Miner::new(MinerConfig::default());
        let mut got: Vec<String> = lines[..3].iter().map(|l| first.add(l).id).collect();
        let saved = first.take_changed();
        assert_eq!(saved.len(), 2, "two clusters, one of them generalized");
        assert!(first.take_changed().is_empty(), "changes are taken once");
        let mut second = Miner::new(MinerConfig::default());
        for s in saved {
            second.restore(s);
        }
        got.extend(lines[3..].iter().map(|l| second.add(l).id));
        assert_eq!(got, expected);
        assert_eq!(
            second.add("session 9 opened for user dan").template,
            "session <*> opened for user <*>"
        );
        // A message that matches a cluster as it stands changes nothing to save.
        second.take_changed();
        second.add("session 10 opened for user erin");
        assert!(second.take_changed().is_empty());
    }

    #[test]
    fn a_message_read_again_goes_back_to_the_cluster_it_made() {
        let mut m = Miner::new(MinerConfig::default());
        let first = m.add("order alpha beta gamma delta").id;
        // Too far from the first to join it: a cluster of its own.
        let made = m.add("order alpha zeta theta delta").id;
        assert_ne!(made, first);
        // The first generalizes, by messages far from the second, at both
        // positions that kept them apart...
        m.add("order alpha kappa gamma delta");
        let wide = m.add("order alpha lambda mu delta");
        assert_eq!(wide.id, first);
        assert_eq!(wide.template, "order alpha <*> <*> delta");
        // ...and now takes the second's message as well as its own cluster does:
        // read again, the message stays where it was.
        assert_eq!(m.add("order alpha zeta theta delta").id, made);
    }

    #[test]
    fn memory_is_bounded_and_evictions_counted() {
        let mut m = Miner::new(MinerConfig {
            max_patterns: 3,
            ..MinerConfig::default()
        });
        for word in ["alpha", "beta", "gamma", "delta", "epsilon"] {
            m.add(&format!("{word} {word} {word} happened"));
        }
        assert_eq!(m.evicted, 2);
    }
}
