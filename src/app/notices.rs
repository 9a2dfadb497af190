//! Messages for the user that stay visible until dismissed (errors) or for a while (info).

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

pub struct Notice {
    pub level: Level,
    pub text: String,
    pub shown: Instant,
}

#[derive(Default)]
pub struct Notices {
    pub list: Vec<Notice>,
}

const INFO_LIFETIME: Duration = Duration::from_secs(6);

impl Notices {
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        match level {
            Level::Error => log::error!("{text}"),
            Level::Warning => log::warn!("{text}"),
            Level::Info => log::info!("{text}"),
        }
        self.list.push(Notice { level, text, shown: Instant::now() });
    }

    /// Drops expired info notices; returns whether any remain that will expire later.
    pub fn expire(&mut self) -> bool {
        self.list.retain(|n| n.level != Level::Info || n.shown.elapsed() < INFO_LIFETIME);
        self.list.iter().any(|n| n.level == Level::Info)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Notice> {
        self.list.iter().filter(|n| n.level == Level::Error)
    }
}
