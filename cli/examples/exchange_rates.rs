//! A plugin that calls an outside HTTPS API through the integration policy: `/rate EUR USD`.
//!
//! The plugin declares the one host it needs; the operator allows it in `[integrations.rates]` (see
//! cli/examples/exchange_rates.toml). Any other host, or plain HTTP, is refused and audited.
//!
//! Run: `cargo run -p palisade-cli --example exchange_rates -- chat --config cli/examples/exchange_rates.toml`

use palisade::Registry;
use palisade_core::prelude::*;

struct Rates;

#[async_trait]
impl Plugin for Rates {
    fn name(&self) -> &'static str {
        "rates"
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("rate", "Exchange rate, e.g. /rate EUR USD")
                .arg(Arg::required("from"))
                .arg(Arg::required("to")),
        ]
    }

    fn integrations(&self) -> Vec<&'static str> {
        vec!["api.frankfurter.app"]
    }

    async fn command(&self, _: &str, ctx: &mut Ctx) -> Result<(), PluginError> {
        let (from, to) =
            (ctx.args().get(0).unwrap_or("EUR").to_uppercase(), ctx.args().get(1).unwrap_or("USD").to_uppercase());
        if ![&from, &to].iter().all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(PluginError::user("Use three-letter currency codes, e.g. /rate EUR USD."));
        }
        let url = format!("https://api.frankfurter.app/latest?from={from}&to={to}");
        let response = ctx
            .http()
            .get(&url)
            .await
            .map_err(|e| PluginError::user(format!("The rate service is unavailable: {e}")))?;
        let json: serde_json::Value = serde_json::from_slice(&response.body).map_err(PluginError::internal)?;
        match json["rates"][&to].as_f64() {
            Some(rate) => ctx.reply(format!("1 {from} = {rate} {to}")),
            None => ctx.reply(format!("No rate for {from} → {to}.")),
        }
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::new().plugin("rates", |s| s.no_settings().map(|()| Rates))
}

fn main() -> std::process::ExitCode {
    palisade_cli::main(registry())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Offline: without the operator's `[integrations.rates]` table the host is refused, and saying why is
    /// the plugin's answer. (The allow-listed HTTPS client itself is tested against a local TLS server in the
    /// runtime's tests.)
    #[tokio::test]
    async fn checks_its_arguments_and_is_refused_without_the_operators_allow_list() {
        palisade_testkit::examples::config_checks("examples/exchange_rates.toml", &registry());
        let store = palisade_testkit::memory_store().await;
        let h = palisade_testkit::Harness::bot(vec![std::sync::Arc::new(Rates)], store, Default::default()).await;
        assert_eq!(h.say("ann", "/rate euro dollar").await, ["Use three-letter currency codes, e.g. /rate EUR USD."]);
        let refused = h.say("ann", "/rate EUR USD").await;
        assert!(refused[0].contains("host `api.frankfurter.app` is not allowed for plugin `rates`"), "{refused:?}");
        h.stop().await;
    }
}
