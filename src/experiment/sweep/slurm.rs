//! A sweep as a Slurm job array: one script that, run by hand with `bash`,
//! submits an array of `tasks` tasks (`#SBATCH --array=0-(tasks-1)`), each
//! running its shard (`--shard $SLURM_ARRAY_TASK_ID/tasks`) into its own
//! store, and a job that depends on the array and merges those stores into
//! one. docs/SWEEPS.md shows how to use it.

use std::path::Path;

/// What the script runs, with which files.
#[derive(Clone, Debug)]
pub struct SlurmJob<'a> {
    /// The sweep's name (for the jobs' names).
    pub name: &'a str,
    /// Runs in the sweep (for the header).
    pub runs: usize,
    /// Array tasks, one shard each.
    pub tasks: usize,
    /// The gradscope binary (the `GRADSCOPE` variable overrides it).
    pub gradscope: &'a Path,
    /// The sweep spec, absolute.
    pub spec: &'a Path,
    /// The merged store, absolute; shard `i` writes `<db without .db>.shard-<i>.db`.
    pub db: &'a Path,
}

/// The script (bash), deterministic for a given job.
pub fn slurm_script(job: &SlurmJob<'_>) -> String {
    let name: String = job
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tasks = job.tasks.max(1);
    format!(
        r#"#!/bin/bash
# Slurm job array for the gradscope sweep `{name}`: {runs} runs in {tasks} shards.
# Written by `gradscope sweep --emit slurm`.
#
#   bash THIS_SCRIPT                        submit the array, then the merge after it
#   SLURM_ARRAY_TASK_ID=3 bash THIS_SCRIPT  run shard 3 here (what each task does)
#   bash THIS_SCRIPT merge                  merge the shards' stores into the sweep's store
#
# Each task resumes its shard if run again; the merge can be run again too.
#SBATCH --job-name=gradscope-{name}
#SBATCH --array=0-{last}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=gradscope-{name}-%A_%a.out
set -euo pipefail

GRADSCOPE=${{GRADSCOPE:-{gradscope}}}
SPEC={spec}
DB={db}
SHARDS={tasks}

shard_db() {{ echo "${{DB%.db}}.shard-$1.db"; }}

if [ "${{1:-}}" = merge ]; then
  shards=()
  for i in $(seq 0 $((SHARDS - 1))); do shards+=("$(shard_db "$i")"); done
  exec "$GRADSCOPE" merge "$DB" "${{shards[@]}}"
fi

if [ -z "${{SLURM_ARRAY_TASK_ID:-}}" ]; then
  script=$(realpath "$0")
  array=$(sbatch --parsable "$script")
  array=${{array%%;*}}
  sbatch --dependency=afterok:"$array" --job-name=gradscope-{name}-merge \
    --output=gradscope-{name}-merge-%j.out --wrap "bash '$script' merge"
  echo "submitted job array $array ($SHARDS tasks) and the merge after it into $DB"
  exit 0
fi

exec "$GRADSCOPE" --db "$(shard_db "$SLURM_ARRAY_TASK_ID")" sweep "$SPEC" \
  --shard "$SLURM_ARRAY_TASK_ID/$SHARDS" --jobs "${{SLURM_CPUS_PER_TASK:-1}}" --quiet
"#,
        runs = job.runs,
        last = tasks - 1,
        gradscope = quote(job.gradscope),
        spec = quote(job.spec),
        db = quote(job.db),
    )
}

/// `path` in single quotes for bash.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_array_has_one_task_per_shard_and_paths_are_quoted() {
        let s = slurm_script(&SlurmJob {
            name: "depth x act",
            runs: 8,
            tasks: 4,
            gradscope: Path::new("/opt/gradscope"),
            spec: Path::new("/home/me/it's.toml"),
            db: Path::new("/scratch/s.db"),
        });
        assert!(s.contains("#SBATCH --array=0-3\n"), "{s}");
        assert!(
            s.contains("#SBATCH --job-name=gradscope-depth_x_act\n"),
            "{s}"
        );
        assert!(s.contains(r"SPEC='/home/me/it'\''s.toml'"), "{s}");
        assert!(
            s.contains("GRADSCOPE=${GRADSCOPE:-'/opt/gradscope'}"),
            "{s}"
        );
        assert!(s.contains("SHARDS=4\n"), "{s}");
    }
}
