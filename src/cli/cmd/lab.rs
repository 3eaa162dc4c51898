//! `mesh lab list|start|show|check|solve|next|prev|reset|stop`: the step-by-step labs. The lab
//! starts its own sandbox in the background (`lab-ID`); the user types each step's commands in
//! their shell, `check` verifies the result. Exit codes: 0 passed, 1 a check failed (or bad
//! input), 3 a check could not run (the sandbox is down).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::labs::catalog;
use crate::labs::check::Outcome;
use crate::labs::runner::{Runner, sandbox_name};

use super::context::{block_on, live, state_root};

/// A check could not run (its sandbox is down): not the step's failure.
pub const CANNOT_RUN: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// List the labs with your progress (a malformed lab file is named with file:line:field).
    ///
    /// Your own lab files (same format) in `$MESH_LAB_DIR` are listed too.
    List,
    /// Start a lab (or come back to it): its sandbox, its files, step 1 (or where you were).
    Start {
        /// The lab's id, as `mesh lab list` shows it (`3.2`, `4.8`, `C2`).
        id: String,
        /// Publish the sandbox's node ports on free host ports instead of 30000, 30005, …
        /// (the commands shown use the real ports).
        #[arg(long)]
        random_ports: bool,
    },
    /// Show the current step again.
    Show {
        /// `json`: the step as data (lab, step, text, rendered commands, working directory).
        #[arg(short = 'o', long = "output", value_name = "FORMAT")]
        output: Option<String>,
    },
    /// Check what you did in the current step.
    Check,
    /// Run the current step's commands for you.
    Solve,
    /// Go to the next step.
    Next,
    /// Go back one step.
    Prev,
    /// Start the current lab over: fresh sandbox, fresh files, step 1.
    Reset,
    /// Stop the current lab's sandbox and processes.
    Stop,
}

fn runner() -> anyhow::Result<Runner> {
    let root = state_root()?;
    let mesh = std::env::current_exe().context("cannot find this mesh binary")?;
    let path_env = std::env::var("PATH").ok();
    let find_root = root.clone();
    Ok(Runner {
        state_root: root.0.clone(),
        mesh,
        path_env,
        find_sandbox: Box::new(move |name| live(&find_root, name)),
        extra_labs: std::env::var_os("MESH_LAB_DIR")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from),
    })
}

fn print_line(line: &str) {
    println!("{line}");
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let r = runner()?;
    match args.command {
        LabCommand::List => list(&r),
        LabCommand::Start { id, random_ports } => {
            let lab = block_on(r.start(&id, random_ports, &mut print_line))?.map_err(lab_error)?;
            println!("lab {} started: {}", lab.id, lab.title);
            show(&r)
        }
        LabCommand::Show { output: None } => show(&r),
        LabCommand::Show {
            output: Some(format),
        } => show_json(&r, &format),
        LabCommand::Check => check(&r),
        LabCommand::Solve => {
            block_on(r.solve(&mut print_line))?.map_err(lab_error)?;
            println!("\ndone; `mesh lab check` verifies it");
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Next | LabCommand::Prev => {
            let forward = matches!(args.command, LabCommand::Next);
            let (lab, moved) = r.go(forward).map_err(lab_error)?;
            if moved.is_none() {
                let done = r
                    .progress()
                    .map_err(lab_error)?
                    .labs
                    .get(&lab.id)
                    .is_some_and(|p| p.done);
                println!(
                    "That was the last step of lab {}{}. `mesh lab list` shows the others; `mesh lab stop` ends this one.",
                    lab.id,
                    if done { " — every step passed" } else { "" }
                );
                return Ok(ExitCode::SUCCESS);
            }
            show(&r)
        }
        LabCommand::Reset => {
            let lab = block_on(r.reset(&mut print_line))?.map_err(lab_error)?;
            println!("lab {} reset", lab.id);
            show(&r)
        }
        LabCommand::Stop => {
            let lab = block_on(r.stop(&mut print_line))?.map_err(lab_error)?;
            println!(
                "lab {} stopped; `mesh lab start {}` resumes at your step",
                lab.id, lab.id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn lab_error(e: crate::labs::runner::LabError) -> anyhow::Error {
    Exit::new(BAD_INPUT, format!("error: {e}")).into()
}

fn list(r: &Runner) -> anyhow::Result<ExitCode> {
    let (labs, problems) = catalog::load_with(r.extra_labs.as_deref());
    let progress = r.progress().map_err(lab_error)?;
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_header(["", "ID", "LAB", "PROGRESS"]);
    for lab in &labs {
        let p = progress.labs.get(&lab.id);
        let state = match p {
            Some(p) if p.done => format!("done ({}/{})", lab.steps.len(), lab.steps.len()),
            Some(p) => format!("{}/{} passed", p.passed.len(), lab.steps.len()),
            None => format!(
                "{} step{}",
                lab.steps.len(),
                if lab.steps.len() == 1 { "" } else { "s" }
            ),
        };
        let current = if progress.current.as_deref() == Some(lab.id.as_str()) {
            "▶"
        } else {
            ""
        };
        table.add_row([
            current.to_owned(),
            lab.id.clone(),
            format!("{} — {}", lab.title, lab.summary),
            state,
        ]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    println!("{}", table.trim_fmt());
    if problems.is_empty() {
        println!("\n`mesh lab start ID` starts one.");
        return Ok(ExitCode::SUCCESS);
    }
    let lines: Vec<String> = problems.iter().map(|p| format!("error: {p}")).collect();
    Err(Exit::new(BAD_INPUT, lines.join("\n")).into())
}

fn show(r: &Runner) -> anyhow::Result<ExitCode> {
    let s = block_on(r.show())?.map_err(lab_error)?;
    let step = &s.lab.steps[s.index].value;
    println!();
    println!(
        "── Lab {} · {} · step {}/{}: {}{}",
        s.lab.id,
        s.lab.title,
        s.index + 1,
        s.lab.steps.len(),
        step.title,
        if s.passed { " ✔" } else { "" }
    );
    println!();
    println!("{}", step.text.trim_end());
    println!();
    println!("Type, in your shell:");
    println!("  cd {}", s.workdir.display());
    if let Some(name) = sandbox_name(&s.lab) {
        println!("  export MESH_CONTEXT={name}      # the lab's sandbox");
    }
    for c in &s.commands {
        println!("  {c}");
    }
    if !s.observe.is_empty() {
        println!("Look:");
        for c in &s.observe {
            println!("  {c}");
        }
    }
    if !s.ports_known {
        println!(
            "(the lab's sandbox is not running: ports shown are the book's; `mesh lab start {}` starts it)",
            s.lab.id
        );
    }
    println!();
    println!(
        "Then: mesh lab check   (mesh lab solve types it for you; mesh lab next, prev, reset)"
    );
    Ok(ExitCode::SUCCESS)
}

fn show_json(r: &Runner, format: &str) -> anyhow::Result<ExitCode> {
    if format != "json" {
        return Err(Exit::new(
            BAD_INPUT,
            format!("error: unknown output format {format:?} (use json)"),
        )
        .into());
    }
    let s = block_on(r.show())?.map_err(lab_error)?;
    let step = &s.lab.steps[s.index].value;
    let v = serde_json::json!({
        "lab": s.lab.id,
        "title": s.lab.title,
        "step": s.index + 1,
        "steps": s.lab.steps.len(),
        "stepTitle": step.title,
        "text": step.text,
        "workdir": s.workdir.display().to_string(),
        "context": sandbox_name(&s.lab),
        "portsKnown": s.ports_known,
        "commands": s.commands,
        "observe": s.observe,
        "checks": step.checks.iter().map(|c| c.value.name.clone()).collect::<Vec<_>>(),
        "passed": s.passed,
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}

fn check(r: &Runner) -> anyhow::Result<ExitCode> {
    let (lab, index, results) = block_on(r.check())?.map_err(lab_error)?;
    println!("Lab {} step {}/{}:", lab.id, index + 1, lab.steps.len());
    // The same reason for every check (the sandbox is down): say it once.
    if let [first, rest @ ..] = results.as_slice()
        && let Outcome::CannotRun(why) = &first.outcome
        && rest.iter().all(|r| r.outcome == first.outcome)
    {
        println!("  ? no check could run: {why}");
        return Ok(ExitCode::from(CANNOT_RUN));
    }
    let mut failed = 0;
    let mut cannot = 0;
    for res in &results {
        match &res.outcome {
            Outcome::Pass => println!("  ✔ {}", res.name),
            Outcome::Fail(why) => {
                failed += 1;
                println!("  ✘ {}\n      {}", res.name, why.replace('\n', "\n      "));
                if let Some(h) = &res.hint {
                    println!("      hint: {}", h.trim());
                }
            }
            Outcome::CannotRun(why) => {
                cannot += 1;
                println!("  ? {} — cannot run: {why}", res.name);
            }
        }
    }
    if cannot > 0 {
        println!("\n{cannot} check(s) could not run; nothing was marked.");
        return Ok(ExitCode::from(CANNOT_RUN));
    }
    if failed > 0 {
        println!("\n{failed} of {} check(s) failed.", results.len());
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if index + 1 == lab.steps.len() {
        println!("\nStep passed — that was the last one.");
    } else {
        println!("\nStep passed. `mesh lab next` goes on.");
    }
    Ok(ExitCode::SUCCESS)
}
