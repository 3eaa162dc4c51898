//! Colours, or none: with `NO_COLOR` every style keeps only bold and reverse, so selection and
//! headers still show.

use ratatui::style::{Color, Modifier, Style};

use super::highlight::Token;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn current_tab(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn header(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn banner(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red)
    }

    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn spark(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn token(&self, t: Token) -> Style {
        match t {
            Token::Key => self.fg(Color::Cyan),
            Token::Str => self.fg(Color::Green),
            Token::Number => self.fg(Color::Magenta),
            Token::Literal => self.fg(Color::Yellow),
            Token::Comment => self.fg(Color::DarkGray),
            Token::Punct | Token::Plain => Style::new(),
        }
    }
}
