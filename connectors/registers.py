"""The registers and reference files in landing/registers and landing/reference, as documented."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Register:
    """A register or reference file in landing/registers or landing/reference."""

    path: str
    description: str
    columns: tuple[tuple[str, str], ...]  # (name, description)


REGISTERS: tuple[Register, ...] = (
    Register(
        "registers/national_data_opt_out.csv",
        "National Data Opt-out: NHS numbers of people who opted out of secondary use.",
        (
            ("NHS_Number", "NHS number of the person who opted out."),
            ("Recorded_Date", "Date the opt-out was recorded (YYYY-MM-DD)."),
        ),
    ),
    Register(
        "registers/non_sharing_practices.csv",
        "Practices that have not signed the ICS data-sharing agreement: their GP data does not flow.",
        (("Practice_Code", "ODS code of the practice."), ("Reason", "Why the practice does not share.")),
    ),
    Register(
        "registers/governance_register.yaml",
        "Approved purposes for re-identification (example).",
        (),
    ),
    Register(
        "reference/practices.csv",
        "GP practices with their Primary Care Network and place.",
        (
            ("Practice_Code", "ODS code."),
            ("Practice_Name", "Name."),
            ("PCN_Code", "PCN ODS code."),
            ("PCN_Name", "PCN name."),
            ("Place", "Place (sub-ICS area)."),
            ("Practice_Postcode", "Postcode."),
        ),
    ),
    Register(
        "reference/lsoa_imd.csv",
        "LSOA 2021 areas with their Index of Multiple Deprivation decile (1 = most deprived).",
        (
            ("LSOA21CD", "LSOA 2021 code."),
            ("LSOA21NM", "LSOA name."),
            ("IMD_Decile", "IMD 2019 decile."),
            ("Place", "Place the LSOA lies in."),
        ),
    ),
    Register(
        "reference/postcode_lsoa.csv",
        "Postcode to LSOA 2021 lookup (ONSPD-like).",
        (("Postcode", "Postcode."), ("LSOA21CD", "LSOA 2021 code.")),
    ),
)
