"""Vocabularies for databases outside Japan (names.py holds the Japanese ones): Germany and an English-speaking
default. Every combination the generator makes of them is invented."""

from __future__ import annotations

SURNAMES = {
    "DE": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
        "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
        "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
        "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel",
        "Friedrich", "Keller", "Günther", "Frank", "Berger"),
    "EN": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
        "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
        "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts"),
}
GIVEN_NAMES = {
    "DE": (
        "Anna", "Maria", "Emma", "Sophie", "Lena", "Laura", "Julia", "Sarah", "Lisa", "Katharina", "Hannah", "Lea",
        "Johanna", "Clara", "Ursula", "Petra", "Sabine", "Monika", "Andrea", "Claudia", "Stefanie", "Nicole",
        "Paul", "Lukas", "Jonas", "Felix", "Leon", "Maximilian", "Tim", "Jan", "David", "Thomas", "Michael",
        "Andreas", "Stefan", "Christian", "Markus", "Frank", "Jürgen", "Klaus", "Peter", "Wolfgang", "Matthias",
        "Tobias", "Florian", "Sebastian", "Alexander", "Niklas", "Moritz", "Philipp", "Jakob"),
    "EN": (
        "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
        "Lisa", "Nancy", "Betty", "Sandra", "Ashley", "Emily", "Michelle", "Amanda", "Melissa", "Laura", "James",
        "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles", "Christopher",
        "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua", "Kevin", "Brian",
        "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan", "Jacob"),
}
#: (street, postal code, city) patterns; house numbers and the last postal digits are drawn
STREETS = {
    "DE": (
        "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße", "Bergstraße", "Lindenstraße",
        "Kirchstraße", "Waldstraße", "Ringstraße", "Mühlenweg", "Rosenweg", "Birkenweg", "Goethestraße",
        "Schillerstraße", "Parkstraße"),
    "EN": (
        "Main St", "Oak St", "Pine St", "Maple Ave", "Cedar St", "Elm St", "Washington St", "Lake St", "Hill St",
        "Park Ave", "Sunset Blvd", "River Rd", "Church St", "Highland Ave", "Forest Dr", "Meadow Ln"),
}
CITIES = {
    "DE": (("10", "Berlin"), ("20", "Hamburg"), ("80", "München"), ("50", "Köln"), ("60", "Frankfurt am Main"),
           ("70", "Stuttgart"), ("40", "Düsseldorf"), ("04", "Leipzig"), ("44", "Dortmund"), ("45", "Essen"),
           ("28", "Bremen"), ("01", "Dresden"), ("30", "Hannover"), ("90", "Nürnberg")),
    "EN": (("10", "New York, NY"), ("90", "Los Angeles, CA"), ("60", "Chicago, IL"), ("77", "Houston, TX"),
           ("85", "Phoenix, AZ"), ("19", "Philadelphia, PA"), ("78", "San Antonio, TX"), ("92", "San Diego, CA"),
           ("75", "Dallas, TX"), ("95", "San Jose, CA"), ("73", "Austin, TX"), ("32", "Jacksonville, FL")),
}
COMPANY_FORMS = {"DE": ("GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG", "e.K."),
                 "EN": ("Inc.", "LLC", "Corp.", "Ltd.", "Co.", "Group")}
BUSINESS_WORDS = {"DE": ("Bau", "Logistik", "Technik", "Handel", "Systeme", "Medizintechnik", "Service", "Software"),
                  "EN": ("Logistics", "Systems", "Trading", "Services", "Software", "Builders", "Foods", "Labs")}
MAIL_DOMAINS = {"DE": ("web.de", "gmx.de", "t-online.de", "gmail.com", "posteo.de", "outlook.de"),
                "EN": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "hotmail.com")}
#: (ICD-10 code, text): common reasons for an outpatient visit
DIAGNOSES = (("J06.9", "Acute upper respiratory infection"), ("I10", "Essential hypertension"),
             ("E11.9", "Type 2 diabetes mellitus"), ("M54.5", "Low back pain"), ("K21.9", "Gastro-oesophageal reflux"),
             ("F32.9", "Depressive episode"), ("J45.9", "Asthma"), ("E78.5", "Hyperlipidaemia"),
             ("N39.0", "Urinary tract infection"), ("R51", "Headache"), ("L30.9", "Dermatitis"),
             ("Z00.0", "General medical examination"), ("S93.4", "Sprain of ankle"), ("H10.9", "Conjunctivitis"))
INSURERS = {"DE": ("AOK", "TK", "BARMER", "DAK-Gesundheit", "IKK classic", "KKH", "hkk", "HEK"),
            "EN": ("Aetna", "Cigna", "UnitedHealthcare", "Humana", "Kaiser Permanente", "Anthem", "BlueCross")}
DEPARTMENTS = ("Allgemeinmedizin", "Innere Medizin", "Kardiologie", "Orthopädie", "Dermatologie", "Pädiatrie",
               "Gynäkologie", "Radiologie", "Labor", "Physiotherapie")
STATUSES = ("active", "active", "active", "pending", "closed", "cancelled")
CODES = ("A", "B", "C", "D", "E", "F")
#: short messages (communications content)
MESSAGES = ("Can we move the appointment to Thursday?", "Please call me back after 5 pm.",
            "The results are ready, see the portal.", "Thanks, received.", "Running 10 minutes late.",
            "Reminder: fasting from midnight.", "Invoice attached.", "Where do I park?")
#: contract or plan names
PLANS = ("Basic", "Standard", "Premium", "Business", "Family", "Flex", "Pro", "Enterprise")
