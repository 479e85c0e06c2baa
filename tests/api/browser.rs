//! A real browser for the console tests: Debian's headless Chromium,
//! driven over WebDriver (chromium-driver on loopback, fantoccini as the
//! client), with the axe-core accessibility engine run in each page and a
//! screenshot of each page saved under `target/console-screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The accessibility engine, vendored (tests/console/vendor/README).
const AXE: &str = include_str!("../console/vendor/axe.min.js");

pub struct Browser {
    driver: Child,
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Where the screenshots go: a CI artifact under `target/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

impl Browser {
    pub fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}); scripts/test.sh installs chromium-driver")
            });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let caps: serde_json::Map<String, Value> = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        })
        .as_object()
        .cloned()
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = rt.block_on(
                ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(c) => break c,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("chromedriver did not start a browser: {e}"),
            }
        };
        Browser {
            driver,
            rt,
            client: Some(client),
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    pub fn goto(&self, url: &str) {
        self.rt
            .block_on(self.c().goto(url))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub fn url(&self) -> String {
        self.rt
            .block_on(self.c().current_url())
            .unwrap()
            .to_string()
    }

    /// The text the page shows (what a person reads).
    pub fn text(&self) -> String {
        self.text_of("body")
    }

    pub fn text_of(&self, css: &str) -> String {
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::Css(css)).await?;
                e.text().await
            })
            .unwrap_or_else(|e| panic!("no {css}: {e}\n{}", self.url()))
    }

    pub fn attr(&self, css: &str, name: &str) -> String {
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::Css(css)).await?;
                e.attr(name).await
            })
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .unwrap_or_default()
    }

    pub fn has(&self, css: &str) -> bool {
        self.rt
            .block_on(self.c().find_all(Locator::Css(css)))
            .map(|v| !v.is_empty())
            .unwrap_or(false)
    }

    pub fn click(&self, css: &str) {
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::Css(css)).await?;
                e.click().await
            })
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}\n{}", self.url()));
    }

    /// Clicks the link, button or label whose text is `text`.
    pub fn click_text(&self, text: &str) {
        let xpath = format!(
            "//a[normalize-space(.)='{text}'] | //button[normalize-space(.)='{text}'] | //label[normalize-space(.)='{text}']"
        );
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::XPath(&xpath)).await?;
                e.click().await
            })
            .unwrap_or_else(|e| panic!("nothing to click named {text:?}: {e}\n{}", self.url()));
    }

    /// Types into the field a label names (`<label for=...>`).
    pub fn fill(&self, label: &str, value: &str) {
        let xpath = format!("//label[normalize-space(.)='{label}']");
        self.rt
            .block_on(async {
                let l = self.c().find(Locator::XPath(&xpath)).await?;
                let id = l.attr("for").await?.unwrap_or_default();
                let field = self.c().find(Locator::Id(&id)).await?;
                field.clear().await?;
                field.send_keys(value).await
            })
            .unwrap_or_else(|e| panic!("no field labelled {label:?}: {e}\n{}", self.url()));
    }

    /// Accepts the confirmation dialog a click opened.
    pub fn accept_dialog(&self) {
        let started = Instant::now();
        while self.rt.block_on(self.c().accept_alert()).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no dialog opened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the page's text contains `needle` (a form post and its
    /// redirect take a moment).
    pub fn wait_for_text(&self, needle: &str) {
        let started = Instant::now();
        loop {
            let text = self
                .rt
                .block_on(async {
                    let e = self.c().find(Locator::Css("body")).await?;
                    e.text().await
                })
                .unwrap_or_default();
            if text.contains(needle) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the page never said {needle:?}: {}\n{text}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url` again until the page says `needle` (what it shows is
    /// written a moment after the request that made it).
    pub fn goto_until(&self, url: &str, needle: &str) {
        let started = Instant::now();
        loop {
            self.goto(url);
            if self.text().contains(needle) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{url} never said {needle:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The session cookie the browser holds.
    pub fn cookie(&self, name: &str) -> String {
        let c = self
            .rt
            .block_on(self.c().get_named_cookie(name))
            .unwrap_or_else(|e| panic!("no cookie {name}: {e}"));
        format!("{name}={}", c.value())
    }

    /// Runs axe-core in the page: the serious and critical violations, as
    /// "rule: help (where)".
    pub fn accessibility_violations(&self) -> Vec<String> {
        let c = self.c();
        let found: Value = self
            .rt
            .block_on(async {
                c.execute(&format!("{AXE}\nreturn true;"), vec![]).await?;
                c.execute_async(
                    "const done = arguments[arguments.length - 1];
                     axe.run(document, {resultTypes: ['violations']})
                        .then(r => done(r.violations.map(v => ({
                            id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.map(n => n.target.join(' '))}))))
                        .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
                    vec![],
                )
                .await
            })
            .unwrap_or_else(|e| panic!("axe did not run: {e}"));
        found
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{}: {} ({})", v["id"], v["help"], v["nodes"]))
            .collect()
    }

    /// Saves a screenshot of the element `css` (below the fold, say) as
    /// `name`.
    pub fn shot_of(&self, css: &str, name: &str) {
        let e = self
            .rt
            .block_on(self.c().find(fantoccini::Locator::Css(css)))
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        let png = self.rt.block_on(e.screenshot()).unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// Checks the page with axe-core and saves its screenshot as `name`.
    pub fn check_page(&self, name: &str) {
        let png = self.rt.block_on(self.c().screenshot()).unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        let violations = self.accessibility_violations();
        assert!(
            violations.is_empty(),
            "{name} ({}): accessibility violations:\n{}",
            self.url(),
            violations.join("\n")
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
