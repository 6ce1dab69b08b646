//! The paper venue: a deterministic simulated market, the default so that Bulwark runs anywhere.
//! Orders are acknowledged on arrival; market orders fill at the symbol's reference price (or are rejected
//! when none is known); limit orders fill at the reference price whenever it is marketable against their limit
//! (on arrival or on a later price update); IOC and FOK remainders are canceled. Optional partial fills and
//! latency come from a seeded generator, so a run is reproducible from its seed and its command sequence.

use crate::{Venue, VenueCommand};
use bulwark_model::*;
use std::collections::{BTreeMap, HashMap};

/// Simulation parameters (validated by the gateway's config loader).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperConfig {
    /// Seed for every random choice the venue makes.
    pub seed: u64,
    /// Probability in [0, 1] that a fill is partial (a random share of the remaining quantity).
    pub partial_fill_probability: f64,
    /// Fixed one-way latency before a command takes effect, in ns.
    pub latency_ns: u64,
    /// Extra random latency, uniform in [0, latency_jitter_ns].
    pub latency_jitter_ns: u64,
    /// High bits of every execution id, so ids stay unique across restarts (the gateway passes its boot time).
    pub exec_id_epoch: u32,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig {
            seed: 1,
            partial_fill_probability: 0.0,
            latency_ns: 0,
            latency_jitter_ns: 0,
            exec_id_epoch: 0,
        }
    }
}

/// SplitMix64: tiny, seedable, good enough for simulation choices.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug)]
struct Resting {
    order: Order,
    leaves: Qty,
}

#[derive(Debug)]
pub struct PaperVenue {
    config: PaperConfig,
    rng: Rng,
    ref_px: HashMap<SymbolId, Px>,
    /// Resting orders by symbol, then id (ordered, so matching order is deterministic).
    book: HashMap<SymbolId, BTreeMap<OrderId, Resting>>,
    exec_seq: u32,
}

impl PaperVenue {
    pub fn new(config: PaperConfig) -> Self {
        assert!(
            (0.0..=1.0).contains(&config.partial_fill_probability),
            "partial_fill_probability must be within [0, 1]"
        );
        PaperVenue {
            rng: Rng(config.seed),
            config,
            ref_px: HashMap::new(),
            book: HashMap::new(),
            exec_seq: 0,
        }
    }

    fn next_exec_id(&mut self) -> u64 {
        self.exec_seq = self.exec_seq.wrapping_add(1);
        (u64::from(self.config.exec_id_epoch) << 32) | u64::from(self.exec_seq)
    }

    fn marketable(order: &Order, ref_px: Px) -> bool {
        match (order.ord_type, order.limit_px) {
            (OrdType::Market, _) => true,
            (OrdType::Limit, Some(limit)) => match order.side {
                Side::Buy => ref_px <= limit,
                Side::Sell => ref_px >= limit,
            },
            (OrdType::Limit, None) => false,
        }
    }

    /// Quantity of the next fill: all of `leaves`, or a random whole-unit share of it.
    fn fill_size(&mut self, leaves: Qty, fok: bool) -> Qty {
        let unit = Qty::from_units(1).raw();
        if fok
            || leaves.raw() < 2 * unit
            || self.rng.next_f64() >= self.config.partial_fill_probability
        {
            return leaves;
        }
        let units = leaves.raw() / unit;
        let part = 1 + (self.rng.next_u64() % (units as u64 - 1)) as i64;
        Qty::from_raw(part * unit)
    }

    /// Fills `resting` as far as the venue fills it now; returns the remaining quantity.
    fn fill_now(&mut self, resting: &mut Resting, px: Px, emit: &mut dyn FnMut(VenueReport)) {
        let fok = resting.order.tif == Tif::Fok;
        // Market orders and IOC/FOK take everything available now, in as many fills as partials make.
        let sweep = resting.order.ord_type == OrdType::Market
            || matches!(resting.order.tif, Tif::Ioc | Tif::Fok);
        loop {
            let qty = self.fill_size(resting.leaves, fok);
            resting.leaves = Qty::from_raw(resting.leaves.raw() - qty.raw());
            let exec_id = self.next_exec_id();
            emit(VenueReport::Fill {
                order: resting.order.id,
                exec_id,
                qty,
                px,
            });
            if !sweep || resting.leaves.raw() == 0 {
                break;
            }
        }
    }

    fn submit(&mut self, order: Order, leaves: Qty, emit: &mut dyn FnMut(VenueReport)) {
        let id = order.id;
        let ref_px = self.ref_px.get(&order.symbol).copied();
        if order.ord_type == OrdType::Market && ref_px.is_none() {
            emit(VenueReport::Rejected {
                order: id,
                reason: VenueRejectReason::NoReferencePrice,
            });
            return;
        }
        emit(VenueReport::Ack { order: id });
        let mut resting = Resting { order, leaves };
        if let Some(px) = ref_px.filter(|px| Self::marketable(&order, *px)) {
            self.fill_now(&mut resting, px, emit);
        }
        if resting.leaves.raw() == 0 {
            return;
        }
        let cause = match (order.ord_type, order.tif) {
            (_, Tif::Ioc) | (OrdType::Market, _) => Some(CancelCause::ImmediateOrCancel),
            (_, Tif::Fok) => Some(CancelCause::FillOrKill),
            _ => None,
        };
        match cause {
            Some(cause) => emit(VenueReport::Canceled { order: id, cause }),
            None => {
                self.book
                    .entry(order.symbol)
                    .or_default()
                    .insert(id, resting);
            }
        }
    }

    fn cancel(&mut self, id: OrderId, emit: &mut dyn FnMut(VenueReport)) {
        let removed = self.book.values_mut().find_map(|orders| orders.remove(&id));
        match removed {
            Some(_) => emit(VenueReport::Canceled {
                order: id,
                cause: CancelCause::Requested,
            }),
            None => emit(VenueReport::CancelRejected {
                order: id,
                reason: VenueRejectReason::TooLateToCancel,
            }),
        }
    }

    /// Changes a resting order in place: new total quantity (less what the venue already filled) and limit
    /// price; it fills at once if the new price is marketable. An order already done here is left alone (its
    /// fills are on their way to the engine).
    fn replace(&mut self, order: Order, emit: &mut dyn FnMut(VenueReport)) {
        let Some(orders) = self.book.get_mut(&order.symbol) else {
            return;
        };
        let Some(mut resting) = orders.remove(&order.id) else {
            return;
        };
        let filled = resting.order.qty.raw() - resting.leaves.raw();
        if order.qty.raw() <= filled {
            return;
        }
        resting.leaves = Qty::from_raw(order.qty.raw() - filled);
        resting.order = order;
        if let Some(px) = self
            .ref_px
            .get(&order.symbol)
            .copied()
            .filter(|px| Self::marketable(&order, *px))
        {
            self.fill_now(&mut resting, px, emit);
        }
        if resting.leaves.raw() > 0 {
            self.book
                .entry(order.symbol)
                .or_default()
                .insert(order.id, resting);
        }
    }

    fn on_price(&mut self, p: PriceUpdate, emit: &mut dyn FnMut(VenueReport)) {
        self.ref_px.insert(p.symbol, p.px);
        let Some(mut orders) = self.book.remove(&p.symbol) else {
            return;
        };
        let ids: Vec<OrderId> = orders
            .values()
            .filter(|r| Self::marketable(&r.order, p.px))
            .map(|r| r.order.id)
            .collect();
        for id in ids {
            if let Some(mut resting) = orders.remove(&id) {
                self.fill_now(&mut resting, p.px, emit);
                if resting.leaves.raw() > 0 {
                    orders.insert(id, resting);
                }
            }
        }
        self.book.insert(p.symbol, orders);
    }
}

impl Venue for PaperVenue {
    fn on_command(&mut self, cmd: VenueCommand, emit: &mut dyn FnMut(VenueReport)) {
        match cmd {
            VenueCommand::Submit(order) => self.submit(order, order.qty, emit),
            VenueCommand::Cancel { order } => self.cancel(order, emit),
            VenueCommand::Replace(order) => self.replace(order, emit),
            VenueCommand::Price(p) => self.on_price(p, emit),
            VenueCommand::Restore(order) => {
                let leaves = Qty::from_raw(order.qty.raw() - order.cum_qty.raw());
                match order.status {
                    OrderStatus::PendingNew => self.submit(order, leaves, emit),
                    OrderStatus::PendingCancel => emit(VenueReport::Canceled {
                        order: order.id,
                        cause: CancelCause::Requested,
                    }),
                    _ => {
                        self.book
                            .entry(order.symbol)
                            .or_default()
                            .insert(order.id, Resting { order, leaves });
                    }
                }
            }
        }
    }

    fn latency_ns(&mut self) -> u64 {
        let jitter = match self.config.latency_jitter_ns {
            0 => 0,
            j => self.rng.next_u64() % (j + 1),
        };
        self.config.latency_ns + jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: u64, side: Side, qty: i64, limit: Option<i64>, tif: Tif) -> Order {
        Order {
            id: OrderId(id),
            account: AccountId(0),
            symbol: SymbolId(0),
            side,
            ord_type: if limit.is_some() {
                OrdType::Limit
            } else {
                OrdType::Market
            },
            tif,
            qty: Qty::from_units(qty),
            limit_px: limit.map(Px::from_units),
            cl_ord_id: ClOrdId::try_new("x").unwrap(),
            ingress: Ingress::Rest,
            status: OrderStatus::PendingNew,
            cum_qty: Qty::ZERO,
            cum_notional: Notional::ZERO,
            created_ts_ns: 0,
            updated_ts_ns: 0,
            reject: None,
        }
    }

    fn run(v: &mut PaperVenue, cmd: VenueCommand) -> Vec<VenueReport> {
        let mut out = Vec::new();
        v.on_command(cmd, &mut |r| out.push(r));
        out
    }

    fn price(px: i64) -> VenueCommand {
        VenueCommand::Price(PriceUpdate {
            symbol: SymbolId(0),
            px: Px::from_units(px),
        })
    }

    #[test]
    fn market_without_price_is_rejected_then_fills_at_reference() {
        let mut v = PaperVenue::new(PaperConfig::default());
        let r = run(
            &mut v,
            VenueCommand::Submit(order(1, Side::Buy, 10, None, Tif::Day)),
        );
        assert!(matches!(
            r[0],
            VenueReport::Rejected {
                reason: VenueRejectReason::NoReferencePrice,
                ..
            }
        ));
        run(&mut v, price(190));
        let r = run(
            &mut v,
            VenueCommand::Submit(order(2, Side::Buy, 10, None, Tif::Day)),
        );
        assert!(matches!(r[0], VenueReport::Ack { .. }));
        assert!(
            matches!(r[1], VenueReport::Fill { qty, px, .. } if qty == Qty::from_units(10) && px == Px::from_units(190))
        );
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn limit_rests_until_marketable_and_cancels() {
        let mut v = PaperVenue::new(PaperConfig::default());
        run(&mut v, price(190));
        let r = run(
            &mut v,
            VenueCommand::Submit(order(1, Side::Sell, 5, Some(195), Tif::Day)),
        );
        assert_eq!(r.len(), 1);
        assert!(run(&mut v, price(194)).is_empty());
        let r = run(&mut v, price(196));
        assert!(matches!(r[0], VenueReport::Fill { px, .. } if px == Px::from_units(196)));
        let r = run(&mut v, VenueCommand::Cancel { order: OrderId(1) });
        assert!(matches!(r[0], VenueReport::CancelRejected { .. }));
        run(
            &mut v,
            VenueCommand::Submit(order(2, Side::Buy, 5, Some(100), Tif::Gtc)),
        );
        let r = run(&mut v, VenueCommand::Cancel { order: OrderId(2) });
        assert!(matches!(
            r[0],
            VenueReport::Canceled {
                cause: CancelCause::Requested,
                ..
            }
        ));
    }

    #[test]
    fn a_pump_keeps_every_report_in_order_when_the_report_ring_fills() {
        let mut commands = vec![price(190)];
        commands
            .extend((1..=5).map(|i| VenueCommand::Submit(order(i, Side::Buy, 3, None, Tif::Day))));
        commands.extend(
            (6..=9).map(|i| VenueCommand::Submit(order(i, Side::Sell, 2, Some(195), Tif::Gtc))),
        );
        commands.push(price(196));
        let mut reference = PaperVenue::new(PaperConfig::default());
        let expected: Vec<VenueReport> = commands
            .iter()
            .flat_map(|c| run(&mut reference, *c))
            .collect();
        assert_eq!(
            expected.len(),
            18,
            "5 acks and 5 fills, 4 acks, 4 fills on the last price"
        );

        let (cmd_tx, cmd_rx) = bulwark_ring::ring(64, &bulwark_ring::Doorbell::new());
        let (rep_tx, rep_rx) = bulwark_ring::ring(2, &bulwark_ring::Doorbell::new());
        let mut pump = crate::VenuePump::new(
            Box::new(PaperVenue::new(PaperConfig::default())),
            cmd_rx,
            rep_tx,
            || 7,
        );
        for c in &commands {
            cmd_tx.try_send(*c).unwrap();
        }
        assert!(pump.has_work());
        let mut got = Vec::new();
        let mut handled = pump.pump();
        assert!(
            pump.has_work() && rep_rx.len() == 2,
            "two reports fit; the rest wait in the pump, and no command is taken while they do"
        );
        while pump.has_work() {
            while let Ok(r) = rep_rx.try_recv() {
                got.push(r);
            }
            handled += pump.pump();
        }
        while let Ok(r) = rep_rx.try_recv() {
            got.push(r);
        }
        assert_eq!(handled, commands.len());
        assert!(
            got.iter().all(|(ts, _)| *ts == 7),
            "stamped by the pump's clock"
        );
        let got: Vec<VenueReport> = got.into_iter().map(|(_, r)| r).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn ioc_remainder_is_canceled() {
        let mut v = PaperVenue::new(PaperConfig::default());
        run(&mut v, price(190));
        let r = run(
            &mut v,
            VenueCommand::Submit(order(1, Side::Buy, 5, Some(180), Tif::Ioc)),
        );
        assert!(matches!(
            r[1],
            VenueReport::Canceled {
                cause: CancelCause::ImmediateOrCancel,
                ..
            }
        ));
    }

    #[test]
    fn partial_fills_are_seeded_and_sum_to_quantity() {
        let cfg = PaperConfig {
            partial_fill_probability: 0.7,
            seed: 42,
            ..PaperConfig::default()
        };
        let fills = |cfg| {
            let mut v = PaperVenue::new(cfg);
            run(&mut v, price(10));
            (1..=10)
                .flat_map(|id| {
                    run(
                        &mut v,
                        VenueCommand::Submit(order(id, Side::Buy, 10, None, Tif::Day)),
                    )
                })
                .collect::<Vec<_>>()
        };
        let a = fills(cfg);
        assert_eq!(a, fills(cfg), "same seed, same fills");
        let total: i64 = a
            .iter()
            .filter_map(|r| match r {
                VenueReport::Fill { qty, .. } => Some(qty.raw()),
                _ => None,
            })
            .sum();
        assert_eq!(total, Qty::from_units(100).raw());
        assert!(a.len() > 20, "with p=0.7 some orders fill in several parts");
    }
}
