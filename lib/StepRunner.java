import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Runs one {@link Step} the same way for a step script and for the pipeline: plan, print the
 * plan, write the reports a dry run may write, then (unless it is a dry run) apply that same
 * plan and print the result. This is the one meaning of {@code --dry-run}.
 */
public final class StepRunner {
    private StepRunner() {}

    /** A step's plan and, when it was applied, its result (null in a dry run). */
    public record Outcome<P extends Step.Plan, R extends Step.Result>(String step, KitContext.Mode mode, P plan, R result) {
        public boolean failed() {
            return result != null && !result.failures().isEmpty();
        }

        /** {"step", "dry_run", "plan", "result", "failures"}: the one JSON object of a step's --json. */
        public ObjectNode toJson() {
            ObjectNode o = JsonFiles.object();
            o.put("step", step);
            o.put("dry_run", mode == KitContext.Mode.DRY_RUN);
            o.set("plan", plan.toJson());
            o.set("result", result == null ? null : result.toJson());
            o.set("failures", JsonFiles.MAPPER.valueToTree(result == null ? java.util.List.of() : result.failures()));
            return o;
        }
    }

    public static <P extends Step.Plan, R extends Step.Result> Outcome<P, R> run(Step<P, R> step, KitContext ctx) throws Exception {
        P plan = step.plan(ctx);
        plan.print(ctx.console());
        step.writeReports(plan, ctx);
        if (ctx.dryRun()) {
            ctx.console().info("Dry run: nothing was changed" + (plan.nothingToDo() ? " (and there is nothing to do)." : ". To do this, " + step.howToApply() + "."));
            return new Outcome<>(step.name(), ctx.mode(), plan, null);
        }
        R result = step.apply(plan, ctx);
        result.print(ctx.console());
        return new Outcome<>(step.name(), ctx.mode(), plan, result);
    }

    /**
     * What a step script's {@code call()} returns: runs the step, prints its one JSON object
     * with --json, and gives the exit code (0 done or nothing to do, 1 something failed).
     */
    public static int runScript(Step<?, ?> step, KitContext ctx) throws Exception {
        Outcome<?, ?> o = run(step, ctx);
        // Serialising the plan and result (Jackson on records, cold) costs a tenth of a second: only for --json.
        if (ctx.console().jsonMode()) ctx.console().emitJson(o.toJson());
        if (o.failed()) {
            ctx.console().error(o.result().failures().size() + " problem(s):");
            for (String f : o.result().failures()) ctx.console().info("  " + f);
        }
        return o.failed() ? StepMain.FAILED : StepMain.OK;
    }
}
