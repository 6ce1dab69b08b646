//! The `bulwark` command line: `run`, `check-config`, `journal verify|dump|stats`, `webhook template`,
//! `--version`.
//! `anyhow` lives here only; everything below returns typed errors.

use bulwark_gateway::config::{self, Config, DurabilityName};
use bulwark_gateway::{server, tools};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "bulwark", version = bulwark_gateway::VERSION, about = "Order-execution and pre-trade risk gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct ConfigArgs {
    /// Configuration file (TOML). Without it the embedded default (config/bulwark.toml) is used.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Override gateway.data_dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum DurabilityArg {
    None,
    Interval,
    Sync,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the gateway.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Override gateway.http_listen, e.g. 127.0.0.1:0.
        #[arg(long)]
        listen: Option<String>,
        /// Override journal.durability.
        #[arg(long, value_enum)]
        durability: Option<DurabilityArg>,
        /// Override fix.port (when `[fix]` is configured).
        #[arg(long)]
        fix_port: Option<u16>,
    },
    /// Validate a configuration; exits non-zero and lists every problem if there is any.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Inspect the journal (JSON lines on stdout).
    Journal {
        #[command(subcommand)]
        action: JournalAction,
    },
    /// TradingView webhook helpers.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// The control plane from a terminal: kill, reset, status, positions, orders, headroom, events. The token
    /// comes from BULWARK_TOKEN, the gateway's address from --url or BULWARK_URL (default http://127.0.0.1:8080).
    Ctl {
        #[arg(long, env = "BULWARK_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        #[command(subcommand)]
        action: CtlAction,
    },
}

#[derive(Args, Debug)]
struct ScopeArgs {
    /// global, group or account.
    #[arg(long)]
    scope: String,
    /// The group or account name (not for global).
    #[arg(long)]
    target: Option<String>,
    /// Why (journaled with your token's name).
    #[arg(long)]
    reason: String,
}

#[derive(Subcommand, Debug)]
enum CtlAction {
    /// Trip the kill switch.
    Kill {
        #[command(flatten)]
        scope: ScopeArgs,
        /// halt, reduce_only, cancel_all (default) or flatten.
        #[arg(long)]
        mode: Option<String>,
    },
    /// Reset the kill switch (needs a role at least as high as the one that tripped it).
    Reset {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Kill state and readiness.
    Status,
    /// An account's positions.
    Positions {
        #[arg(long)]
        account: String,
    },
    /// An account's orders.
    Orders {
        #[arg(long)]
        account: String,
    },
    /// An account's headroom before each limit.
    Headroom {
        #[arg(long)]
        account: String,
    },
    /// Follow the event stream (one JSON object per line).
    Events {
        #[arg(long)]
        account: Option<String>,
        /// Resume after this sequence number.
        #[arg(long)]
        after: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
enum WebhookAction {
    /// Print the exact TradingView alert message to paste (stdout) and the webhook URL (stderr).
    Template {
        #[command(flatten)]
        config: ConfigArgs,
        /// The webhook's name in the configuration.
        #[arg(long)]
        webhook: String,
    },
}

#[derive(Subcommand, Debug)]
enum JournalAction {
    /// Check every record; exit 1 on corruption.
    Verify(JournalArgs),
    /// Print every record.
    Dump(JournalArgs),
    /// Print counts, sizes and the time range.
    Stats(JournalArgs),
}

#[derive(Args, Debug)]
struct JournalArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The journal directory itself (default: <data_dir>/journal).
    #[arg(long)]
    journal_dir: Option<PathBuf>,
}

impl From<CtlAction> for bulwark_gateway::ctl::Action {
    fn from(a: CtlAction) -> Self {
        use bulwark_gateway::ctl::{Action, Scope};
        let scope = |s: ScopeArgs| Scope {
            scope: s.scope,
            target: s.target,
            reason: s.reason,
        };
        match a {
            CtlAction::Kill { scope: s, mode } => Action::Kill(scope(s), mode),
            CtlAction::Reset { scope: s } => Action::Reset(scope(s)),
            CtlAction::Status => Action::Status,
            CtlAction::Positions { account } => Action::Get("positions", account),
            CtlAction::Orders { account } => Action::Get("orders", account),
            CtlAction::Headroom { account } => Action::Get("headroom", account),
            CtlAction::Events { account, after } => Action::Events { account, after },
        }
    }
}

fn load(args: &ConfigArgs) -> Result<Config, ExitCode> {
    match config::load(args.config.as_deref()) {
        Ok(mut c) => {
            if let Some(d) = &args.data_dir {
                c.gateway.data_dir = d.clone();
            }
            Ok(c)
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} configuration error(s)", errors.0.len());
            Err(ExitCode::from(2))
        }
    }
}

/// A `bulwark journal` subcommand: reads the journal in a directory, writes JSON lines, and says whether the
/// journal passed.
type JournalTool = fn(&std::path::Path, &mut dyn std::io::Write) -> std::io::Result<bool>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run {
            config,
            listen,
            durability,
            fix_port,
        } => {
            let mut c = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Some(l) = listen {
                if l.parse::<std::net::SocketAddr>().is_err() {
                    eprintln!("--listen `{l}` is not an address like 127.0.0.1:8080");
                    return ExitCode::from(2);
                }
                c.gateway.http_listen = l;
            }
            if let (Some(p), Some(f)) = (fix_port, c.fix.as_mut()) {
                f.port = p;
            }
            if let Some(d) = durability {
                c.journal.durability = match d {
                    DurabilityArg::None => DurabilityName::None,
                    DurabilityArg::Interval => DurabilityName::Interval,
                    DurabilityArg::Sync => DurabilityName::Sync,
                };
            }
            match server::run(c) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("bulwark: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig { config } => match load(&config) {
            Ok(c) => {
                println!(
                    "configuration OK: {} accounts, {} symbols, durability {}",
                    c.accounts.len(),
                    c.symbols.len(),
                    c.journal.policy().name()
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Webhook {
            action: WebhookAction::Template { config, webhook },
        } => {
            let c = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match bulwark_gateway::webhook::template(&c, &webhook) {
                Ok((message, url)) => {
                    eprintln!(
                        "Webhook URL (TradingView: Alert > Notifications > Webhook URL): {url}"
                    );
                    eprintln!("Alert message (TradingView: Alert > Message):");
                    println!("{message}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("bulwark webhook template: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Ctl { url, action } => bulwark_gateway::ctl::run(&url, action.into()),
        Command::Journal { action } => {
            let (args, f): (&JournalArgs, JournalTool) = match &action {
                JournalAction::Verify(a) => (a, tools::verify),
                JournalAction::Dump(a) => (a, tools::dump),
                JournalAction::Stats(a) => (a, tools::stats),
            };
            let dir = match &args.journal_dir {
                Some(d) => d.clone(),
                None => match load(&args.config) {
                    Ok(c) => c.journal_dir(),
                    Err(code) => return code,
                },
            };
            let mut out = std::io::stdout().lock();
            match f(&dir, &mut out) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("bulwark journal: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
