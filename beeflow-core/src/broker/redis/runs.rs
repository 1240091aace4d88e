//! A run as the append script takes it and publishes it: consecutive stream deliveries on
//! the same channels, which Redis appends and publishes as one.
//!
//! The published message is `S<offset>:<epoch>,…\n<delivery>\n<delivery>…`: for each stream
//! the run touches, in the order its deliveries first touch them, the stream's last offset
//! before the run and its epoch; then the deliveries (compact JSON, which has no newline of
//! its own). Each delivery's stream parts take the next offsets of their streams, in order,
//! so the script does no work per delivery and every reader positions them alike.

use std::sync::Arc;

use crate::broker::RemoteDelivery;
use crate::envelope::Position;

/// One delivery's stream parts and message, as the append script takes them.
pub(super) struct DeliveryArgs {
    /// Per stream part: the stream's key base and the event as its history keeps it.
    pub(super) stored: Vec<(String, String)>,
    /// The delivery's wire form.
    pub(super) message: Vec<u8>,
}

/// The script's arguments for a run of `deliveries`: the number of streams, per stream its
/// key base, how many events the run appends to it and those events (newline-separated),
/// then the deliveries' messages (newline-separated).
pub(super) fn run_args<'a>(deliveries: impl IntoIterator<Item = &'a DeliveryArgs>) -> Vec<Vec<u8>> {
    let mut streams: Vec<(&str, usize, Vec<u8>)> = Vec::new();
    let mut message = Vec::new();
    for (index, delivery) in deliveries.into_iter().enumerate() {
        for (base, stored) in &delivery.stored {
            match streams.iter_mut().find(|(known, ..)| known == base) {
                Some((_, count, events)) => {
                    *count += 1;
                    events.push(b'\n');
                    events.extend_from_slice(stored.as_bytes());
                }
                None => streams.push((base, 1, stored.as_bytes().to_vec())),
            }
        }
        if index > 0 {
            message.push(b'\n');
        }
        message.extend_from_slice(&delivery.message);
    }
    let mut args = Vec::with_capacity(2 + 3 * streams.len());
    args.push(streams.len().to_string().into_bytes());
    for (base, count, events) in streams {
        args.push(base.as_bytes().to_vec());
        args.push(count.to_string().into_bytes());
        args.push(events);
    }
    args.push(message);
    args
}

/// Gives a run's deliveries, taken in order, their positions from the run's header.
#[derive(Debug)]
pub(super) struct RunPositions {
    /// The header's streams not yet touched: their offset before the run, and epoch.
    untouched: std::vec::IntoIter<(u64, Arc<str>)>,
    /// The streams touched so far: name, last offset given, epoch.
    touched: Vec<(Arc<str>, u64, Arc<str>)>,
}

impl RunPositions {
    /// Reads a header (`<offset>:<epoch>,…`, as the script writes it).
    pub(super) fn parse(header: &str) -> Option<Self> {
        let starts = if header.is_empty() {
            Vec::new()
        } else {
            header
                .split(',')
                .map(|position| {
                    let (offset, epoch) = position.split_once(':')?;
                    Some((offset.parse().ok()?, epoch.into()))
                })
                .collect::<Option<Vec<_>>>()?
        };
        Some(Self {
            untouched: starts.into_iter(),
            touched: Vec::new(),
        })
    }

    /// Gives the next delivery's stream parts their positions in place, each the next
    /// offset of its stream; false when it touches more streams than the header has.
    pub(super) fn position(&mut self, delivery: &mut RemoteDelivery) -> bool {
        for part in &mut delivery.parts {
            let Some(stream) = part.topic.stream() else {
                continue;
            };
            let Some((offset, epoch)) = self.take(&stream) else {
                return false;
            };
            let position = Position {
                stream,
                offset,
                epoch,
            };
            // Fresh from the wire, the frame is not shared: positioned in place.
            Arc::make_mut(&mut part.frame).set_position(position);
        }
        true
    }

    /// Counts the next delivery's stream parts without positioning it (a delivery this
    /// node does not deliver); false when it touches more streams than the header has.
    pub(super) fn skip(&mut self, delivery: &RemoteDelivery) -> bool {
        delivery
            .parts
            .iter()
            .filter_map(|part| part.topic.stream())
            .all(|stream| self.take(&stream).is_some())
    }

    /// The next offset of `stream` in this run, and its epoch.
    fn take(&mut self, stream: &Arc<str>) -> Option<(u64, Arc<str>)> {
        let index = match self.touched.iter().position(|(known, ..)| known == stream) {
            Some(index) => index,
            None => {
                let (offset, epoch) = self.untouched.next()?;
                self.touched.push((stream.clone(), offset, epoch));
                self.touched.len() - 1
            }
        };
        let (_, offset, epoch) = &mut self.touched[index];
        *offset += 1;
        Some((*offset, epoch.clone()))
    }
}

/// Splits a published message into the run's positions (`None` for a message without
/// streams, which is one delivery) and its deliveries; `None` when malformed.
pub(super) fn split_message(payload: &[u8]) -> Option<(Option<RunPositions>, Vec<&[u8]>)> {
    let Some(rest) = payload.strip_prefix(b"S") else {
        return Some((None, vec![payload]));
    };
    let end = rest.iter().position(|&b| b == b'\n')?;
    let positions = RunPositions::parse(std::str::from_utf8(&rest[..end]).ok()?)?;
    let deliveries = rest[end + 1..].split(|&b| b == b'\n').collect();
    Some((Some(positions), deliveries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{RemotePart, Topic};
    use crate::envelope::EventFrame;
    use crate::recipient::Recipient;

    fn to(topics: &[Topic]) -> RemoteDelivery {
        let frame = Arc::new(EventFrame::new(
            None,
            "e",
            &Recipient::group("g"),
            "{}",
            false,
        ));
        RemoteDelivery {
            id: uuid::Uuid::new_v4(),
            parts: topics
                .iter()
                .map(|topic| RemotePart {
                    topic: topic.clone(),
                    connections: Vec::new(),
                    frame: frame.clone(),
                })
                .collect(),
            except: None,
            origin: "n".into(),
        }
    }

    #[test]
    fn each_delivery_takes_the_next_offsets_of_its_streams() {
        let (a, b) = (Topic::Group("a".into()), Topic::User("b".into()));
        let node = Topic::Node("n".into());
        let mut run = RunPositions::parse("4:ea,9:eb").unwrap();
        // (offset, epoch) of each stream part of the next delivery, once positioned.
        let mut next = |topics: &[Topic]| {
            let mut delivery = to(topics);
            run.position(&mut delivery).then(|| {
                delivery
                    .parts
                    .iter()
                    .filter_map(|part| part.frame.position())
                    .map(|p| (p.offset, p.epoch.clone()))
                    .collect::<Vec<(u64, Arc<str>)>>()
            })
        };
        assert_eq!(next(std::slice::from_ref(&a)), Some(vec![(5, "ea".into())]));
        assert_eq!(
            next(&[node, b.clone(), a]),
            Some(vec![(10, "eb".into()), (6, "ea".into())]),
            "a connection part has no position; b is touched second"
        );
        assert_eq!(next(&[b]), Some(vec![(11, "eb".into())]));
        assert_eq!(
            next(&[Topic::Group("c".into())]),
            None,
            "a stream the header does not have"
        );
    }

    #[test]
    fn the_run_args_group_events_by_stream_in_first_touched_order() {
        let delivery = |stored: &[(&str, &str)], message: &str| DeliveryArgs {
            stored: stored
                .iter()
                .map(|(base, event)| (base.to_string(), event.to_string()))
                .collect(),
            message: message.as_bytes().to_vec(),
        };
        let args = run_args(&[
            delivery(&[("b", "1")], "{1}"),
            delivery(&[("a", "2"), ("b", "3")], "{2}"),
            delivery(&[], "{3}"),
        ]);
        let args: Vec<&str> = args
            .iter()
            .map(|arg| std::str::from_utf8(arg).unwrap())
            .collect();
        assert_eq!(
            args,
            ["2", "b", "2", "1\n3", "a", "1", "2", "{1}\n{2}\n{3}"]
        );
    }

    #[test]
    fn messages_split_into_positions_and_deliveries() {
        let (positions, deliveries) = split_message(b"S4:ab,7:cd\n{}\n{\"a\":1}").unwrap();
        assert!(positions.is_some());
        assert_eq!(deliveries, [&b"{}"[..], &b"{\"a\":1}"[..]]);
        let (positions, deliveries) = split_message(b"{}").unwrap();
        assert!(positions.is_none(), "not a stream message");
        assert_eq!(deliveries, [&b"{}"[..]]);
        assert!(split_message(b"S4:ab").is_none(), "no deliveries");
        assert!(split_message(b"Sx:ab\n{}").is_none(), "not an offset");
        assert!(split_message(b"S4\n{}").is_none(), "no epoch");
    }
}
