/**
 * What every step runs with: the configuration, the folder layout, the console and the mode.
 * Steps take nothing else implicitly: no positional booleans, no nulls meaning "default".
 *
 * @param mode DRY_RUN computes and prints the plan and changes nothing (only step 4's reports,
 *             proposals.json and the review page, may be written); APPLY carries the plan out.
 */
public record KitContext(KitConfig config, Layout layout, Console console, Mode mode) {
    public enum Mode { DRY_RUN, APPLY }

    public boolean dryRun() {
        return mode == Mode.DRY_RUN;
    }

    public KitContext withMode(Mode m) {
        return new KitContext(config, layout, console, m);
    }

    public KitContext withLayout(Layout l) {
        return new KitContext(config, l, console, mode);
    }

    public KitContext withConsole(Console c) {
        return new KitContext(config, layout, c, mode);
    }

    /** The job ledger (data/runs/jobs.json); in a dry run it is read but never written. */
    public JobLedger ledger() {
        return JobLedger.open(layout.runs(), mode);
    }
}
