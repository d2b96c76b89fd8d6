import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One step of the pipeline: first a typed plan that says exactly what it would do (what
 * {@code --dry-run} prints, and the JSON of {@code --json}), then {@code apply} carries out
 * that same plan and returns a typed result. A step script and the pipeline run the same
 * step class through {@link StepRunner}, so there is one code path, not two that can drift.
 *
 * <p>Rules every step keeps:
 * <ul>
 *   <li>{@code plan} changes nothing anywhere: no archive file, no ledger, nothing on the site
 *       or in the bucket. It validates what {@code apply} will write before anything is written.</li>
 *   <li>{@code writeReports} may write reports only (step 4's proposals.json and review page);
 *       it runs in dry runs too.</li>
 *   <li>{@code apply} records per upload job what it finished in the {@link JobLedger}.</li>
 * </ul>
 */
public interface Step<P extends Step.Plan, R extends Step.Result> {

    /** The step's short name ("backup", "download", ...): its key in the run journal. */
    String name();

    /** How a person carries out the plan a dry run showed (steps whose default is a dry run say --execute). */
    default String howToApply() {
        return "run again without --dry-run";
    }

    /** Computes what the step would do. Reads only. */
    P plan(KitContext ctx) throws Exception;

    /** Reports that a dry run may still write (step 4's); by default none. */
    default void writeReports(P plan, KitContext ctx) throws Exception {}

    /** Carries out exactly {@code plan}. Never called in a dry run. */
    R apply(P plan, KitContext ctx) throws Exception;

    /** What a step would do. Records serialise to JSON as they are (Jackson reads record components). */
    interface Plan {
        /** The human table of the plan. */
        void print(Console console);

        /** True when there is nothing to do; apply then changes nothing. */
        boolean nothingToDo();

        default JsonNode toJson() {
            return JsonFiles.MAPPER.valueToTree(this);
        }
    }

    /** What a step did. */
    interface Result {
        /** The human summary of what was done. */
        void print(Console console);

        /**
         * Everything that did not work, one line each naming the file or job and what to do;
         * empty when everything planned was done. A non-empty list makes the step exit 1 and
         * the pipeline's outcome "incomplete".
         */
        List<String> failures();

        default JsonNode toJson() {
            return JsonFiles.MAPPER.valueToTree(this);
        }
    }
}
