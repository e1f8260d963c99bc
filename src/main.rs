//! `audience-guard` command line: `check-config` and `explain`, on the same core the
//! filter runs, so what it prints is what Envoy would do.

use audience_guard::token::TokenSource;
use audience_guard::{decide, explain::explain, Policy, Request};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage:
  audience-guard check-config FILE
  audience-guard explain --config FILE --method M --path P [--host H] [--route R]
                         [--header 'Name: value']... [--token T] [--now UNIX]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((cmd, rest)) if cmd == "check-config" => check_config(rest),
        Some((cmd, rest)) if cmd == "explain" => run_explain(rest),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &str) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Policy::from_json(&text).map_err(|e| format!("invalid configuration: {e}"))
}

fn check_config(args: &[String]) -> Result<String, String> {
    match args {
        [path] => load(path).map(|policy| {
            let warnings = policy
                .warnings
                .iter()
                .map(|w| format!("{path}: warning: {w}\n"));
            format!("{}{path}: ok", warnings.collect::<String>())
        }),
        _ => Err(USAGE.to_owned()),
    }
}

#[derive(Default)]
struct ExplainArgs {
    config: Option<String>,
    method: Option<String>,
    path: Option<String>,
    host: Option<String>,
    route: Option<String>,
    headers: Vec<String>,
    token: Option<String>,
    now: Option<u64>,
}

fn parse_explain(args: &[String]) -> Result<ExplainArgs, String> {
    let mut parsed = ExplainArgs::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?
            .clone();
        match flag.as_str() {
            "--config" => parsed.config = Some(value),
            "--method" => parsed.method = Some(value),
            "--path" => parsed.path = Some(value),
            "--host" => parsed.host = Some(value),
            "--route" => parsed.route = Some(value),
            "--header" => parsed.headers.push(value),
            "--token" => parsed.token = Some(value),
            "--now" => {
                parsed.now = Some(value.parse().map_err(|_| "--now: expected unix seconds")?)
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

fn run_explain(args: &[String]) -> Result<String, String> {
    let args = parse_explain(args)?;
    let required =
        |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required\n{USAGE}"));
    let policy = load(&required(args.config, "--config")?)?;
    let method = required(args.method, "--method")?;
    let mut path = required(args.path, "--path")?;
    let authority = args.host.unwrap_or_else(|| "localhost".to_owned());
    let mut headers = vec![
        (":method".to_owned(), method.clone().into_bytes()),
        (":authority".to_owned(), authority.clone().into_bytes()),
    ];
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("--header {header:?}: expected 'Name: value'"))?;
        headers.push((
            name.trim().to_ascii_lowercase(),
            // Envoy strips leading and trailing whitespace of field values (RFC 9110 §5.5).
            value.trim_matches([' ', '\t']).as_bytes().to_vec(),
        ));
    }
    if let Some(token) = args.token {
        // The token goes where the first configured source looks for it.
        match policy.sources.sources.first() {
            Some(TokenSource::Header { name, prefix }) => {
                let value = prefix
                    .as_ref()
                    .map_or(token.clone(), |p| format!("{p} {token}"));
                headers.push((name.clone(), value.into_bytes()));
            }
            Some(TokenSource::Query { name }) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                path = format!("{path}{sep}{name}={token}");
            }
            Some(TokenSource::Cookie { name }) => {
                headers.push(("cookie".to_owned(), format!("{name}={token}").into_bytes()))
            }
            None => {}
        }
    }
    headers.insert(1, (":path".to_owned(), path.clone().into_bytes()));
    let request = Request {
        method,
        path,
        authority,
        route: args.route,
        headers: headers.into_iter().collect(),
    };
    let now = match args.now {
        Some(now) => now,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs(),
    };
    let decision = decide(&policy, &request, now);
    serde_json::to_string_pretty(&explain(&decision)).map_err(|e| e.to_string())
}
