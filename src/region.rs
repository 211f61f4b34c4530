//! Azure region names: the closed list the configuration and estate files are checked against.
//!
//! Owns the canonical (lower-case, no spaces) spelling of public-cloud regions and the lookup that turns a display
//! name such as `"East US"` into `eastus`. It must not know anything about which regions are paired or healthy:
//! pairing is the user's declaration (`region_pair`) and health is live state.

/// Public Azure regions by their ARM `location` names, sorted.
pub const REGIONS: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "chilecentral",
    "denmarkeast",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
];

/// Normalises a region as ARM does (`"East US"` → `"eastus"`) and returns it when it names a known region.
pub fn canonical(name: &str) -> Option<&'static str> {
    let folded: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    REGIONS
        .binary_search(&folded.as_str())
        .ok()
        .map(|i| REGIONS[i])
}

/// The known region closest in spelling to `name`, for "did you mean" help.
pub fn suggest(name: &str) -> Option<&'static str> {
    let folded = name.to_lowercase().replace(' ', "");
    REGIONS
        .iter()
        .map(|r| (strsim::damerau_levenshtein(&folded, r), *r))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_for_binary_search() {
        assert!(REGIONS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn display_names_fold_to_location_names() {
        assert_eq!(canonical("East US 2"), Some("eastus2"));
        assert_eq!(canonical("westus2"), Some("westus2"));
        assert_eq!(canonical("moon"), None);
    }

    #[test]
    fn suggests_nearest_region() {
        assert_eq!(suggest("eastsu"), Some("eastus"));
        assert_eq!(suggest("westeurop"), Some("westeurope"));
        assert_eq!(suggest("completely-wrong"), None);
    }
}
