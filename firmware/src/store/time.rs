//! Timestamps as stored: UTC text of fixed width, millisecond precision.

use jiff::Timestamp;

use rusqlite::Error::FromSqlConversionFailure;
use rusqlite::Row;
use rusqlite::types::Type;

use super::StoreError;

/// Formats `ts` as `YYYY-MM-DDTHH:MM:SS.mmmZ`, truncated to the millisecond.
///
/// The width is fixed for years 0000 to 9999, so text order is time order.
pub(crate) fn to_sql(ts: Timestamp) -> String {
    let millis = Timestamp::from_millisecond(ts.as_millisecond()).unwrap_or(ts);
    millis.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a timestamp written by [`to_sql`].
pub(crate) fn from_sql(column: &'static str, value: &str) -> Result<Timestamp, StoreError> {
    value
        .parse::<Timestamp>()
        .map_err(|err| StoreError::CorruptValue {
            column,
            value: value.to_owned(),
            reason: err.to_string(),
        })
}

/// Reads a timestamp column of a result row.
pub(crate) fn get(row: &Row<'_>, index: usize) -> rusqlite::Result<Timestamp> {
    let text: String = row.get(index)?;
    text.parse::<Timestamp>()
        .map_err(|err| FromSqlConversionFailure(index, Type::Text, Box::new(err)))
}

/// Reads a nullable timestamp column of a result row.
pub(crate) fn get_opt(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        text.parse::<Timestamp>()
            .map_err(|err| FromSqlConversionFailure(index, Type::Text, Box::new(err)))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_sql_fixed_width_and_ordered() {
        let whole: Timestamp = "2024-03-15T09:30:00Z".parse().unwrap();
        let fraction: Timestamp = "2024-03-15T09:30:00.5Z".parse().unwrap();

        assert_eq!(to_sql(whole), "2024-03-15T09:30:00.000Z");
        assert_eq!(to_sql(fraction), "2024-03-15T09:30:00.500Z");
        assert!(to_sql(whole) < to_sql(fraction));
    }

    #[test]
    fn to_sql_round_trips() {
        let ts: Timestamp = "2031-12-31T23:59:59.123456Z".parse().unwrap();
        let back = from_sql("t", &to_sql(ts)).unwrap();
        assert_eq!(back.as_millisecond(), ts.as_millisecond());
    }

    #[test]
    fn from_sql_rejects_garbage() {
        let err = from_sql("messages.fetched_at", "yesterday").unwrap_err();
        assert!(err.to_string().contains("messages.fetched_at"), "{err}");
    }
}
