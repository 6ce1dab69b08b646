"""NautilusTrader RiskEngine, as a peer for Bulwark's risk-chain bench (bench/RESULTS.md).

Pushes limit orders through `RiskEngine.execute(SubmitOrder)` with its pre-trade checks on (trading state,
instrument, price/quantity precision and limits, max notional per order, the order-submit throttle set high
so that it does not reject) and measures each call with time.perf_counter_ns. The orders reach a mock
execution client. Setup follows NautilusTrader's own RiskEngine unit tests.

    python3 -m venv bench/peers/.venv && bench/peers/.venv/bin/pip install nautilus_trader
    bench/peers/.venv/bin/python bench/peers/nautilus_risk.py [orders]
"""
import random
import statistics
import sys
import time

from nautilus_trader.common.component import MessageBus, TestClock
from nautilus_trader.config import ExecEngineConfig, RiskEngineConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.engine import ExecutionEngine
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OrderSide
from nautilus_trader.model.identifiers import ClientId, Venue
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.risk.engine import RiskEngine
from nautilus_trader.test_kit.mocks.exec_clients import MockExecutionClient
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.test_kit.stubs.component import TestComponentStubs
from nautilus_trader.test_kit.stubs.events import TestEventStubs
from nautilus_trader.test_kit.stubs.identifiers import TestIdStubs
from nautilus_trader.trading.strategy import Strategy


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    clock = TestClock()
    trader_id = TestIdStubs.trader_id()
    msgbus = MessageBus(trader_id=trader_id, clock=clock)
    cache = TestComponentStubs.cache()
    portfolio = Portfolio(msgbus=msgbus, cache=cache, clock=clock)
    exec_engine = ExecutionEngine(msgbus=msgbus, cache=cache, clock=clock, config=ExecEngineConfig(debug=False))
    risk_engine = RiskEngine(
        portfolio=portfolio,
        msgbus=msgbus,
        cache=cache,
        clock=clock,
        config=RiskEngineConfig(
            debug=False,
            max_order_submit_rate="100000000/00:00:01",
            max_notional_per_order={"AAPL.XNAS": 1_000_000},
        ),
    )
    venue = Venue("XNAS")
    exec_client = MockExecutionClient(
        client_id=ClientId("XNAS"),
        venue=venue,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        msgbus=msgbus,
        cache=cache,
        clock=clock,
    )
    portfolio.update_account(TestEventStubs.margin_account_state(account_id=TestIdStubs.account_id()))
    exec_engine.register_client(exec_client)
    instrument = TestInstrumentProvider.equity("AAPL", "XNAS")
    cache.add_instrument(instrument)
    quote = QuoteTick(
        instrument_id=instrument.id,
        bid_price=Price.from_str("189.99"),
        ask_price=Price.from_str("190.01"),
        bid_size=Quantity.from_int(1_000),
        ask_size=Quantity.from_int(1_000),
        ts_event=0,
        ts_init=0,
    )
    cache.add_quote_tick(quote)
    strategy = Strategy()
    strategy.register(trader_id=trader_id, portfolio=portfolio, msgbus=msgbus, cache=cache, clock=clock)
    exec_engine.start()
    risk_engine.start()
    exec_client.start()

    rng = random.Random(7)
    commands = []
    for i in range(orders):
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        px = Price.from_str(f"{189 + rng.randint(0, 200) / 100:.2f}")
        order = strategy.order_factory.limit(instrument.id, side, Quantity.from_int(1 + rng.randint(0, 99)), px)
        commands.append(
            SubmitOrder(
                trader_id=trader_id,
                strategy_id=strategy.id,
                order=order,
                command_id=UUID4(),
                ts_init=clock.timestamp_ns(),
            )
        )
    # Warm up on a tenth, then measure the rest.
    warm = orders // 10
    for c in commands[:warm]:
        risk_engine.execute(c)
    lat = []
    perf = time.perf_counter_ns
    t_start = perf()
    for c in commands[warm:]:
        t0 = perf()
        risk_engine.execute(c)
        lat.append(perf() - t0)
    total = perf() - t_start
    lat.sort()
    n = len(lat)
    statuses = {}
    for o in cache.orders():
        statuses[o.status_string()] = statuses.get(o.status_string(), 0) + 1
    q = lambda p: lat[min(n - 1, int(p * n))]
    print(f"nautilus_trader RiskEngine.execute (limit orders, checks on): n={n} "
          f"mean_ns={total / n:.0f} p50_ns={q(0.5)} p99_ns={q(0.99)} p999_ns={q(0.999)} max_ns={lat[-1]} "
          f"timed_mean_ns={statistics.fmean(lat):.0f} order_statuses={statuses}")


if __name__ == "__main__":
    main()
