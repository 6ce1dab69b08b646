//! The versioned binary codec for journal payloads. Each [`Event`] variant has a fixed little-endian layout,
//! documented byte by byte in `docs/journal.md`; the record header carries the kind and [`CODEC_VERSION`].
//! Decoding validates every enum byte, every length and the absence of trailing bytes, so a payload either
//! decodes to exactly the event that was encoded or fails with a [`CodecError`]; it never panics.

use crate::event::*;
use crate::fixed::{Px, Qty};
use crate::ids::{AccountId, ClOrdId, OrderId, SymbolId};
use crate::order::{Ingress, OrdType, Side, Tif};
use crate::reason::{Measure, Reject, RejectReason, RuleId};

/// Payload layout version written by this build. Bump it when a layout changes and keep decoding old ones.
/// Version 2 added the ingress and the request's own client order id to `cancel_order`; every other layout is
/// the same in versions 1 and 2.
pub const CODEC_VERSION: u16 = 2;
/// Longest string in a payload (catalog names, version text), in bytes.
pub const PAYLOAD_STR_LEN_MAX: usize = 256;
/// Most names in one boot catalog.
pub const CATALOG_ENTRIES_MAX: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("payload ends early")]
    Truncated,
    #[error("invalid value for {0}")]
    Invalid(&'static str),
    #[error("{0} trailing bytes after the payload")]
    TrailingBytes(usize),
    #[error("unknown record kind {0}")]
    UnknownKind(u16),
    #[error(
        "record kind {kind} version {version} is not supported by this build (max {CODEC_VERSION})"
    )]
    UnsupportedVersion { kind: u16, version: u16 },
}

/// Largest payload of any event but [`Event::Boot`], in bytes: room to reserve for [`encode_into`].
pub const FIXED_PAYLOAD_BYTES_MAX: usize = 96;

/// Where an encoder writes bytes.
pub trait Sink {
    fn extend_from_slice(&mut self, bytes: &[u8]);
    fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }
}

impl Sink for Vec<u8> {
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
}

/// Writes into a fixed slice; panics if it runs past the end (callers reserve [`FIXED_PAYLOAD_BYTES_MAX`]).
#[derive(Debug)]
pub struct SliceSink<'a> {
    pub buf: &'a mut [u8],
    pub pos: usize,
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        self.buf[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
    }
}

/// Encodes a non-boot event straight into `dst` (at least [`FIXED_PAYLOAD_BYTES_MAX`] bytes); returns the
/// payload length. Boot records have variable length and go through [`encode`]. Inlined into the journal's
/// append, where the destination's size is a constant and the field writes need no bounds checks.
#[inline]
pub fn encode_into(event: &Event, dst: &mut [u8]) -> usize {
    assert!(
        !event.is_variable_length(),
        "boot and audit records are encoded with `encode`"
    );
    let mut sink = SliceSink { buf: dst, pos: 0 };
    encode(event, &mut sink);
    debug_assert!(sink.pos <= FIXED_PAYLOAD_BYTES_MAX);
    sink.pos
}

/// Appends the payload of `event` to `out` (which the caller clears and reuses: no allocation after warm-up).
#[inline]
pub fn encode<S: Sink>(event: &Event, out: &mut S) {
    match event {
        Event::Boot(b) => {
            put_str(out, &b.version);
            put_u32(out, b.accounts.len() as u32);
            for a in &b.accounts {
                put_str(out, a);
            }
            put_u32(out, b.symbols.len() as u32);
            for s in &b.symbols {
                put_str(out, s);
            }
        }
        Event::NewOrder(o) => put_new_order(out, o),
        Event::EngineOrder(e) => {
            put_u64(out, e.order.0);
            put_new_order(out, &e.new);
        }
        Event::CancelOrder(c) => {
            put_u32(out, c.account.0);
            put_target(out, &c.target);
            out.push(c.ingress as u8);
            match &c.cl_ord_id {
                Some(cl) => {
                    out.push(1);
                    put_cl_ord_id(out, cl);
                }
                None => out.push(0),
            }
        }
        Event::ReplaceOrder(c) => {
            put_u32(out, c.account.0);
            put_target(out, &c.target);
            put_cl_ord_id(out, &c.cl_ord_id);
            put_i64(out, c.qty.raw());
            put_opt_px(out, c.limit_px);
        }
        Event::Decision(d) => {
            put_u64(out, d.order.0);
            match d.verdict {
                Verdict::Accept => out.push(0),
                Verdict::Reject(r) => {
                    out.extend_from_slice(&[1, r.rule as u8, r.reason as u8, r.measure as u8]);
                    put_i64(out, r.observed);
                    put_i64(out, r.limit);
                }
            }
        }
        Event::Venue(v) => match *v {
            VenueReport::Ack { order } => {
                out.push(1);
                put_u64(out, order.0);
            }
            VenueReport::Fill {
                order,
                exec_id,
                qty,
                px,
            } => {
                out.push(2);
                put_u64(out, order.0);
                put_u64(out, exec_id);
                put_i64(out, qty.raw());
                put_i64(out, px.raw());
            }
            VenueReport::Canceled { order, cause } => {
                out.push(3);
                put_u64(out, order.0);
                out.push(cause as u8);
            }
            VenueReport::Rejected { order, reason } => {
                out.push(4);
                put_u64(out, order.0);
                out.push(reason as u8);
            }
            VenueReport::CancelRejected { order, reason } => {
                out.push(5);
                put_u64(out, order.0);
                out.push(reason as u8);
            }
        },
        Event::Price(p) => {
            put_u32(out, p.symbol.0);
            put_i64(out, p.px.raw());
        }
        Event::Control(c) => {
            out.push(c.kind as u8);
            match c.scope {
                KillScope::Global => {
                    out.push(0);
                    put_u32(out, 0);
                }
                KillScope::Group(g) => {
                    out.push(1);
                    put_u32(out, g);
                }
                KillScope::Account(a) => {
                    out.push(2);
                    put_u32(out, a.0);
                }
                KillScope::Symbol(s) => {
                    out.push(3);
                    put_u32(out, s.0);
                }
                KillScope::Venue(v) => {
                    out.push(4);
                    put_u32(out, v);
                }
            }
            out.push(c.level);
        }
        Event::Timer(Timer::DayRoll { day, boundary }) => {
            out.push(1);
            put_u32(out, *day);
            out.extend_from_slice(&boundary.to_le_bytes());
        }
        Event::Signal(sig) => {
            out.extend_from_slice(&sig.key.0);
            out.extend_from_slice(&sig.children.to_le_bytes());
        }
        Event::Audit(a) => {
            put_str(out, &a.actor);
            out.push(a.role);
            put_str(out, &a.reason);
        }
    }
}

/// Decodes a payload of `kind` written with layout `version`.
pub fn decode(kind: u16, version: u16, payload: &[u8]) -> Result<Event, CodecError> {
    let kind_enum = EventKind::from_u16(kind).ok_or(CodecError::UnknownKind(kind))?;
    if version == 0 || version > CODEC_VERSION {
        return Err(CodecError::UnsupportedVersion { kind, version });
    }
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let event = match kind_enum {
        EventKind::Boot => {
            let version = r.str()?;
            let n = r.count()?;
            let mut accounts = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                accounts.push(r.str()?);
            }
            let n = r.count()?;
            let mut symbols = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                symbols.push(r.str()?);
            }
            Event::Boot(Boot {
                version,
                accounts,
                symbols,
            })
        }
        EventKind::NewOrder => Event::NewOrder(read_new_order(&mut r)?),
        EventKind::EngineOrder => Event::EngineOrder(EngineOrder {
            order: OrderId(r.u64()?),
            new: read_new_order(&mut r)?,
        }),
        EventKind::CancelOrder => {
            let account = AccountId(r.u32()?);
            let target = read_target(&mut r)?;
            // Layout 1 had neither field. Then only the FIX edge named an order by client order id; the
            // cancels by order id read as REST requests.
            let (ingress, cl_ord_id) = if version == 1 {
                let ingress = match target {
                    CancelTarget::ByClOrdId(_) => Ingress::Fix,
                    CancelTarget::ById(_) => Ingress::Rest,
                };
                (ingress, None)
            } else {
                let ingress = Ingress::from_u8(r.u8()?).ok_or(CodecError::Invalid("ingress"))?;
                let cl_ord_id = match r.u8()? {
                    0 => None,
                    1 => Some(r.cl_ord_id()?),
                    _ => return Err(CodecError::Invalid("has client order id")),
                };
                (ingress, cl_ord_id)
            };
            Event::CancelOrder(CancelOrder {
                account,
                target,
                ingress,
                cl_ord_id,
            })
        }
        EventKind::ReplaceOrder => {
            let account = AccountId(r.u32()?);
            let target = read_target(&mut r)?;
            let cl_ord_id = r.cl_ord_id()?;
            let qty = Qty::from_raw(r.i64()?);
            let limit_px = read_opt_px(&mut r)?;
            Event::ReplaceOrder(ReplaceOrder {
                account,
                target,
                cl_ord_id,
                qty,
                limit_px,
            })
        }
        EventKind::Decision => {
            let order = OrderId(r.u64()?);
            let verdict = match r.u8()? {
                0 => Verdict::Accept,
                1 => {
                    let rule = RuleId::from_u8(r.u8()?).ok_or(CodecError::Invalid("rule"))?;
                    let reason =
                        RejectReason::from_u8(r.u8()?).ok_or(CodecError::Invalid("reason"))?;
                    let measure =
                        Measure::from_u8(r.u8()?).ok_or(CodecError::Invalid("measure"))?;
                    let observed = r.i64()?;
                    let limit = r.i64()?;
                    Verdict::Reject(Reject {
                        rule,
                        reason,
                        measure,
                        observed,
                        limit,
                    })
                }
                _ => return Err(CodecError::Invalid("verdict")),
            };
            Event::Decision(Decision { order, verdict })
        }
        EventKind::Venue => {
            let tag = r.u8()?;
            let order = OrderId(r.u64()?);
            let report = match tag {
                1 => VenueReport::Ack { order },
                2 => VenueReport::Fill {
                    order,
                    exec_id: r.u64()?,
                    qty: Qty::from_raw(r.i64()?),
                    px: Px::from_raw(r.i64()?),
                },
                3 => VenueReport::Canceled {
                    order,
                    cause: CancelCause::from_u8(r.u8()?)
                        .ok_or(CodecError::Invalid("cancel cause"))?,
                },
                4 => VenueReport::Rejected {
                    order,
                    reason: VenueRejectReason::from_u8(r.u8()?)
                        .ok_or(CodecError::Invalid("venue reason"))?,
                },
                5 => VenueReport::CancelRejected {
                    order,
                    reason: VenueRejectReason::from_u8(r.u8()?)
                        .ok_or(CodecError::Invalid("venue reason"))?,
                },
                _ => return Err(CodecError::Invalid("venue report")),
            };
            Event::Venue(report)
        }
        EventKind::Price => Event::Price(PriceUpdate {
            symbol: SymbolId(r.u32()?),
            px: Px::from_raw(r.i64()?),
        }),
        EventKind::Control => {
            let kind = ControlKind::from_u8(r.u8()?).ok_or(CodecError::Invalid("control kind"))?;
            let tag = r.u8()?;
            let id = r.u32()?;
            let scope = match (tag, id) {
                (0, 0) => KillScope::Global,
                (1, g) => KillScope::Group(g),
                (2, a) => KillScope::Account(AccountId(a)),
                (3, s) => KillScope::Symbol(SymbolId(s)),
                (4, v) => KillScope::Venue(v),
                _ => return Err(CodecError::Invalid("kill scope")),
            };
            Event::Control(Control {
                kind,
                scope,
                level: r.u8()?,
            })
        }
        EventKind::Timer => match r.u8()? {
            1 => {
                let day = r.u32()?;
                let b = r.take(2)?;
                Event::Timer(Timer::DayRoll {
                    day,
                    boundary: u16::from_le_bytes([b[0], b[1]]),
                })
            }
            _ => return Err(CodecError::Invalid("timer")),
        },
        EventKind::Audit => Event::Audit(Audit {
            actor: r.str()?,
            role: r.u8()?,
            reason: r.str()?,
        }),
        EventKind::Signal => {
            let mut key = [0u8; 32];
            key.copy_from_slice(r.take(32)?);
            let c = r.take(2)?;
            Event::Signal(SignalRecord {
                key: SignalKey(key),
                children: u16::from_le_bytes([c[0], c[1]]),
            })
        }
    };
    if r.pos != payload.len() {
        return Err(CodecError::TrailingBytes(payload.len() - r.pos));
    }
    Ok(event)
}

#[inline]
fn put_u32<S: Sink>(out: &mut S, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
#[inline]
fn put_u64<S: Sink>(out: &mut S, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
#[inline]
fn put_i64<S: Sink>(out: &mut S, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}
#[inline]
fn put_new_order<S: Sink>(out: &mut S, o: &NewOrder) {
    put_u32(out, o.account.0);
    put_u32(out, o.symbol.0);
    out.extend_from_slice(&[o.side as u8, o.ord_type as u8, o.tif as u8, o.ingress as u8]);
    put_i64(out, o.qty.raw());
    put_opt_px(out, o.limit_px);
    out.push(u8::from(o.ext_hours));
    put_cl_ord_id(out, &o.cl_ord_id);
}

fn read_new_order(r: &mut Reader<'_>) -> Result<NewOrder, CodecError> {
    let account = AccountId(r.u32()?);
    let symbol = SymbolId(r.u32()?);
    let side = Side::from_u8(r.u8()?).ok_or(CodecError::Invalid("side"))?;
    let ord_type = OrdType::from_u8(r.u8()?).ok_or(CodecError::Invalid("ord_type"))?;
    let tif = Tif::from_u8(r.u8()?).ok_or(CodecError::Invalid("tif"))?;
    let ingress = Ingress::from_u8(r.u8()?).ok_or(CodecError::Invalid("ingress"))?;
    let qty = Qty::from_raw(r.i64()?);
    let limit_px = read_opt_px(r)?;
    let ext_hours = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(CodecError::Invalid("ext_hours")),
    };
    let cl_ord_id = r.cl_ord_id()?;
    Ok(NewOrder {
        account,
        symbol,
        side,
        ord_type,
        tif,
        qty,
        limit_px,
        cl_ord_id,
        ingress,
        ext_hours,
    })
}

fn put_str<S: Sink>(out: &mut S, s: &str) {
    assert!(
        s.len() <= PAYLOAD_STR_LEN_MAX,
        "payload string longer than PAYLOAD_STR_LEN_MAX"
    );
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}
#[inline]
fn put_opt_px<S: Sink>(out: &mut S, px: Option<Px>) {
    match px {
        Some(px) => {
            out.push(1);
            put_i64(out, px.raw());
        }
        None => {
            out.push(0);
            put_i64(out, 0);
        }
    }
}

#[inline]
fn put_target<S: Sink>(out: &mut S, target: &CancelTarget) {
    match target {
        CancelTarget::ById(id) => {
            out.push(1);
            put_u64(out, id.0);
        }
        CancelTarget::ByClOrdId(cl) => {
            out.push(2);
            put_cl_ord_id(out, cl);
        }
    }
}

fn read_opt_px(r: &mut Reader<'_>) -> Result<Option<Px>, CodecError> {
    let has_px = r.u8()?;
    let px = r.i64()?;
    match (has_px, px) {
        (0, 0) => Ok(None),
        (1, px) => Ok(Some(Px::from_raw(px))),
        _ => Err(CodecError::Invalid("limit_px")),
    }
}

fn read_target(r: &mut Reader<'_>) -> Result<CancelTarget, CodecError> {
    Ok(match r.u8()? {
        1 => CancelTarget::ById(OrderId(r.u64()?)),
        2 => CancelTarget::ByClOrdId(r.cl_ord_id()?),
        _ => return Err(CodecError::Invalid("cancel target")),
    })
}

#[inline]
fn put_cl_ord_id<S: Sink>(out: &mut S, id: &ClOrdId) {
    let s = id.as_bytes();
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CodecError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, CodecError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(self.u64()? as i64)
    }
    fn count(&mut self) -> Result<usize, CodecError> {
        let n = self.u32()? as usize;
        if n > CATALOG_ENTRIES_MAX {
            return Err(CodecError::Invalid("catalog length"));
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String, CodecError> {
        let mut b = [0u8; 2];
        b.copy_from_slice(self.take(2)?);
        let n = u16::from_le_bytes(b) as usize;
        if n > PAYLOAD_STR_LEN_MAX {
            return Err(CodecError::Invalid("string length"));
        }
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CodecError::Invalid("utf-8 string"))
    }
    fn cl_ord_id(&mut self) -> Result<ClOrdId, CodecError> {
        let n = self.u8()? as usize;
        let bytes = self.take(n)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| CodecError::Invalid("client order id"))?;
        ClOrdId::try_new(text).map_err(|_| CodecError::Invalid("client order id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cl_ord_id() -> impl Strategy<Value = ClOrdId> {
        "[!-~]{1,36}".prop_map(|s| ClOrdId::try_new(&s).expect("generated id is valid"))
    }

    fn reject() -> impl Strategy<Value = Reject> {
        (
            prop::sample::select(RuleId::ALL.to_vec()),
            prop::sample::select(RejectReason::ALL.to_vec()),
            0u8..9,
            any::<i64>(),
            any::<i64>(),
        )
            .prop_map(|(rule, reason, m, observed, limit)| Reject {
                rule,
                reason,
                measure: Measure::from_u8(m).expect("0..9 are measures"),
                observed,
                limit,
            })
    }

    pub(crate) fn event() -> impl Strategy<Value = Event> {
        let new_order = (
            any::<u32>(),
            any::<u32>(),
            prop::bool::ANY,
            prop::bool::ANY,
            1u8..5,
            1u8..7,
            any::<i64>(),
            prop::option::of(any::<i64>()),
            (cl_ord_id(), any::<bool>()),
        )
            .prop_map(|(a, s, buy, mkt, tif, ing, qty, px, (cl, ext_hours))| {
                Event::NewOrder(NewOrder {
                    account: AccountId(a),
                    symbol: SymbolId(s),
                    side: if buy { Side::Buy } else { Side::Sell },
                    ord_type: if mkt { OrdType::Market } else { OrdType::Limit },
                    tif: Tif::from_u8(tif).expect("1..5 are tifs"),
                    qty: Qty::from_raw(qty),
                    limit_px: px.map(Px::from_raw),
                    cl_ord_id: cl,
                    ingress: Ingress::from_u8(ing).expect("1..7 are ingresses"),
                    ext_hours,
                })
            });
        let cancel = (
            any::<u32>(),
            prop::option::of(any::<u64>()),
            cl_ord_id(),
            1u8..7,
            prop::option::of(cl_ord_id()),
        )
            .prop_map(|(a, id, cl, ing, own)| {
                Event::CancelOrder(CancelOrder {
                    account: AccountId(a),
                    target: match id {
                        Some(id) => CancelTarget::ById(OrderId(id)),
                        None => CancelTarget::ByClOrdId(cl),
                    },
                    ingress: Ingress::from_u8(ing).expect("1..7 are ingresses"),
                    cl_ord_id: own,
                })
            });
        let replace = (
            any::<u32>(),
            prop::option::of(any::<u64>()),
            cl_ord_id(),
            cl_ord_id(),
            any::<i64>(),
            prop::option::of(any::<i64>()),
        )
            .prop_map(|(a, id, cl, new_cl, qty, px)| {
                Event::ReplaceOrder(ReplaceOrder {
                    account: AccountId(a),
                    target: match id {
                        Some(id) => CancelTarget::ById(OrderId(id)),
                        None => CancelTarget::ByClOrdId(cl),
                    },
                    cl_ord_id: new_cl,
                    qty: Qty::from_raw(qty),
                    limit_px: px.map(Px::from_raw),
                })
            });
        let decision = (any::<u64>(), prop::option::of(reject())).prop_map(|(o, r)| {
            Event::Decision(Decision {
                order: OrderId(o),
                verdict: r.map_or(Verdict::Accept, Verdict::Reject),
            })
        });
        let venue = (
            0u8..5,
            any::<u64>(),
            any::<u64>(),
            any::<i64>(),
            any::<i64>(),
            1u8..5,
        )
            .prop_map(|(tag, o, e, q, p, c)| {
                let order = OrderId(o);
                Event::Venue(match tag {
                    0 => VenueReport::Ack { order },
                    1 => VenueReport::Fill {
                        order,
                        exec_id: e,
                        qty: Qty::from_raw(q),
                        px: Px::from_raw(p),
                    },
                    2 => VenueReport::Canceled {
                        order,
                        cause: CancelCause::from_u8(c).expect("1..5 are causes"),
                    },
                    3 => VenueReport::Rejected {
                        order,
                        reason: VenueRejectReason::from_u8(c).expect("1..5 are reasons"),
                    },
                    _ => VenueReport::CancelRejected {
                        order,
                        reason: VenueRejectReason::from_u8(c).expect("1..5 are reasons"),
                    },
                })
            });
        let boot = (
            "[a-z0-9.-]{0,20}",
            prop::collection::vec("[A-Z0-9-]{1,12}", 0..5),
            prop::collection::vec("[A-Z0-9!:]{1,12}", 0..5),
        )
            .prop_map(|(version, accounts, symbols)| {
                Event::Boot(Boot {
                    version,
                    accounts,
                    symbols,
                })
            });
        let new_order = new_order.boxed();
        let engine_order = (any::<u64>(), new_order.clone()).prop_map(|(id, ev)| match ev {
            Event::NewOrder(new) => Event::EngineOrder(EngineOrder {
                order: OrderId(id),
                new,
            }),
            other => other,
        });
        prop_oneof![
            new_order,
            engine_order,
            cancel,
            replace,
            decision,
            venue,
            boot,
            (any::<u32>(), any::<i64>()).prop_map(|(s, p)| Event::Price(PriceUpdate {
                symbol: SymbolId(s),
                px: Px::from_raw(p)
            })),
            (1u8..8, 0u8..5, any::<u32>(), 0u8..5).prop_map(|(k, tag, id, level)| {
                Event::Control(Control {
                    kind: ControlKind::from_u8(k).expect("1..7 are control kinds"),
                    scope: match tag {
                        0 => KillScope::Global,
                        1 => KillScope::Group(id),
                        2 => KillScope::Account(AccountId(id)),
                        3 => KillScope::Symbol(SymbolId(id)),
                        _ => KillScope::Venue(id),
                    },
                    level,
                })
            }),
            (any::<u32>(), any::<u16>())
                .prop_map(|(day, boundary)| Event::Timer(Timer::DayRoll { day, boundary })),
            ("[a-z0-9 -]{0,20}", any::<u8>(), "\\PC{0,40}").prop_map(|(actor, role, reason)| {
                Event::Audit(Audit {
                    actor,
                    role,
                    reason,
                })
            }),
            (any::<[u8; 32]>(), any::<u16>()).prop_map(|(key, children)| Event::Signal(
                SignalRecord {
                    key: SignalKey(key),
                    children
                }
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_events_round_trip(ev in event()) {
            let mut buf = Vec::new();
            encode(&ev, &mut buf);
            let back = decode(ev.kind() as u16, CODEC_VERSION, &buf).expect("decodes");
            prop_assert_eq!(back, ev);
        }

        #[test]
        fn slice_encoding_matches_vec_encoding(ev in event()) {
            if !ev.is_variable_length() {
                let mut v = Vec::new();
                encode(&ev, &mut v);
                let mut buf = [0u8; FIXED_PAYLOAD_BYTES_MAX];
                let n = encode_into(&ev, &mut buf);
                prop_assert!(n <= FIXED_PAYLOAD_BYTES_MAX);
                prop_assert_eq!(&buf[..n], &v[..]);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(kind in 0u16..13, version in 0u16..4, bytes in prop::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(kind, version, &bytes);
        }

        #[test]
        fn truncation_is_an_error(ev in event(), cut in 1usize..64) {
            let mut buf = Vec::new();
            encode(&ev, &mut buf);
            if cut <= buf.len() {
                buf.truncate(buf.len() - cut);
                prop_assert!(decode(ev.kind() as u16, CODEC_VERSION, &buf).is_err());
            }
        }
    }

    /// A layout-1 cancel (account, target, nothing after) still decodes, with no client order id of its own: by
    /// order id as a REST request, by client order id as a FIX one; the same bytes are truncated under layout 2.
    #[test]
    fn a_layout_1_cancel_decodes_without_a_client_order_id() {
        let mut v1 = Vec::new();
        v1.extend_from_slice(&7u32.to_le_bytes());
        v1.push(1);
        v1.extend_from_slice(&42u64.to_le_bytes());
        let kind = EventKind::CancelOrder as u16;
        assert_eq!(
            decode(kind, 1, &v1),
            Ok(Event::CancelOrder(CancelOrder::by_id(
                AccountId(7),
                OrderId(42),
                Ingress::Rest
            )))
        );
        assert_eq!(decode(kind, 2, &v1), Err(CodecError::Truncated));
        let mut by_cl = Vec::new();
        by_cl.extend_from_slice(&7u32.to_le_bytes());
        by_cl.extend_from_slice(&[2, 3, b'O', b'-', b'1']);
        assert_eq!(
            decode(kind, 1, &by_cl),
            Ok(Event::CancelOrder(CancelOrder {
                account: AccountId(7),
                target: CancelTarget::ByClOrdId(ClOrdId::try_new("O-1").unwrap()),
                ingress: Ingress::Fix,
                cl_ord_id: None,
            }))
        );
        let fix = Event::CancelOrder(CancelOrder {
            cl_ord_id: Some(ClOrdId::try_new("C-1").unwrap()),
            ..CancelOrder::by_id(AccountId(7), OrderId(42), Ingress::Fix)
        });
        let mut v2 = Vec::new();
        encode(&fix, &mut v2);
        assert_eq!(&v2[..v1.len()], &v1[..]);
        assert_eq!(&v2[v1.len()..], &[2, 1, 3, b'C', b'-', b'1']);
        assert_eq!(decode(kind, 2, &v2), Ok(fix));
    }

    #[test]
    fn trailing_bytes_and_versions_are_errors() {
        let ev = Event::Control(Control::halt_all(LEVEL_ADMIN));
        let mut buf = Vec::new();
        encode(&ev, &mut buf);
        buf.push(0);
        assert_eq!(decode(7, 1, &buf), Err(CodecError::TrailingBytes(1)));
        assert!(matches!(
            decode(7, 3, &buf[..1]),
            Err(CodecError::UnsupportedVersion { .. })
        ));
        assert_eq!(decode(99, 1, &buf), Err(CodecError::UnknownKind(99)));
    }
}
