"""Text data of the built-in ``news`` domain: 14 sections of a news site.

Cost is the reading time in whole minutes (briefs 1–3, features and analysis up to 20). Headlines
carry no quality signal; the hidden quality stands for reporting depth.
"""

from __future__ import annotations

from .spec import CategorySpec, DomainSpec

_C = CategorySpec

CATEGORIES = (
    _C(
        name="Politics",
        interests=("political news", "elections and campaigns", "Congress and policy debates"),
        slots={
            "actor": ("the Senate", "House Republicans", "Senate Democrats", "the White House",
                      "the governor", "the Supreme Court", "state lawmakers", "the mayor",
                      "a bipartisan group of senators", "the attorney general",
                      "the election commission", "swing-state voters"),
            "issue": ("a spending bill", "immigration reform", "voting rights",
                      "the debt ceiling", "a government shutdown", "redistricting maps",
                      "campaign finance rules", "a border security package", "term limits",
                      "a tax overhaul", "the primary calendar", "a filibuster change"),
            "verb": ("clashes over", "passes", "blocks", "unveils", "debates", "delays",
                     "rejects", "pushes for"),
        },
        titles=("{Actor} {Verb} {Issue}", "{Actor} {Verb} {Issue} Ahead of the Election",
                "Analysis: What {Issue} Means for the Midterms", "Poll: Voters Split on {Issue}",
                "{Actor} Under Pressure Over {Issue}", ("Campaign Trail: {Issue} Takes Center "
                "Stage")),
        descriptions=("{actor} {verb} {issue} as partisan tensions rise before the vote.",
                      "Lawmakers and campaign strategists weigh in as {actor} {verb} {issue}.",
                      ("The political fight over {issue} intensifies; {actor} signals it will "
                      "not back down."),
                      ("Polling shows voters divided on {issue} while {actor2} lobbies "
                      "undecided legislators.")),
        tags=("politics", "election", "Congress", "policy", "government", "campaign",
              "legislation", "voters"),
        cost=(5.0, 0.4, 2.0, 15.0),
    ),
    _C(
        name="World",
        interests=("international news", "world affairs and diplomacy", "foreign policy"),
        slots={
            "country": ("Ukraine", "Brazil", "India", "Japan", "Nigeria", "France", "Indonesia",
                        "Argentina", "South Korea", "Egypt", "Germany", "Mexico", "Kenya",
                        "the Philippines", "Turkey", "Canada"),
            "event": ("peace talks", "a disputed election", "mass protests", "a trade summit",
                      "a refugee crisis", "a ceasefire agreement", "border tensions",
                      "a state visit", "new sanctions", "a coalition collapse",
                      "a UN resolution"),
            "leader": ("the prime minister", "the foreign minister", "the president",
                       "opposition leaders", "European diplomats", "UN envoys"),
        },
        titles=("{Country}: {Leader} Responds to {Event}", ("{Event} in {Country} Draws "
                "International Concern"), "{Country} and {Country2} Agree to {Event}",
                "World Briefing: {Event} in {Country}", "Inside {Country}'s {Event}",
                "Diplomats Race to Contain {Event} in {Country}"),
        descriptions=(("{leader} of {country} faces growing pressure amid {event}, with "
                      "neighbors watching closely."),
                      ("Foreign correspondents report from {country}, where {event} has "
                      "reshaped regional diplomacy."),
                      "International reaction to {event} in {country}; {leader} calls for calm.",
                      "{country} and {country2} trade accusations as {event} unfolds."),
        tags=("world news", "international", "diplomacy", "foreign policy", "global",
              "geopolitics", "United Nations"),
        cost=(6.0, 0.4, 2.0, 18.0),
    ),
    _C(
        name="Business",
        interests=("business and markets news", "stock market updates", "economy reporting",
                   "corporate earnings"),
        slots={
            "company": ("Apple", "Amazon", "Tesla", "a regional bank", "Boeing", "Walmart",
                        "Nvidia", "a major airline", "Starbucks", "Ford", "a private equity firm",
                        "Disney", "a fast-growing startup", "Shell"),
            "market": ("quarterly earnings", "a merger deal", "layoffs", "a stock buyback",
                       "record profits", "a profit warning", "an IPO filing", "a CEO departure",
                       "supply chain costs", "interest rate pressure"),
            "index": ("the S&P 500", "the Dow", "the Nasdaq", "oil prices", "the dollar",
                      "Treasury yields", "bitcoin"),
        },
        titles=("{Company} Shares Jump After {Market}", "{Company} Announces {Market}",
                "Markets: {Index} Slides as Investors Weigh {Market}", ("{Company} Misses "
                "Estimates Amid {Market}"), "Why {Company}'s {Market} Matters for Investors",
                "Stocks Today: {Index} and {Company}"),
        descriptions=(("{company} reported {market}, sending its stock higher while {index} "
                      "edged lower."),
                      ("Investors and analysts react to {market} at {company}; {index} swings in "
                      "afternoon trading."),
                      ("Wall Street watches {index} as {company} discloses {market} in a "
                      "regulatory filing."),
                      ("An economic look at {market}: what it means for {company}, shareholders "
                      "and the wider market.")),
        tags=("business", "markets", "stocks", "economy", "earnings", "Wall Street", "finance",
              "investing", "companies"),
        cost=(5.0, 0.4, 2.0, 15.0),
    ),
    _C(
        name="Technology",
        interests=("technology news", "AI and software industry news", "cybersecurity stories",
                   "startup and Silicon Valley news"),
        slots={
            "tech": ("artificial intelligence", "a chatbot", "a data breach", "quantum computing",
                     "chip manufacturing", "a social media app", "self-driving cars",
                     "a smartphone launch", "cloud computing", "a ransomware attack",
                     "open-source software", "satellite internet", "a privacy update",
                     "virtual reality headsets"),
            "firm": ("Google", "Microsoft", "Meta", "OpenAI", "Apple", "Samsung", "TikTok",
                     "a Silicon Valley startup", "Intel", "Amazon Web Services"),
            "reaction": ("regulators", "privacy advocates", "software developers",
                         "security researchers", "app users"),
        },
        titles=("{Firm} Bets Big on {Tech}", "{Tech}: {Firm} Faces Scrutiny From {Reaction}",
                "How {Tech} Is Changing Silicon Valley", "{Firm} Unveils New {Tech} Tools",
                "Tech Brief: {Firm} and {Tech}", "{Reaction} Warn About {Tech}"),
        descriptions=(("{firm} is investing heavily in {tech}, and {reaction} are paying close "
                      "attention."),
                      ("A technology report on {tech}: the software, the hardware and the "
                      "companies racing to lead."),
                      "{reaction} raise concerns as {firm} rolls out {tech} to millions of users.",
                      "What {tech} means for the tech industry, from {firm} to small startups."),
        tags=("technology", "tech", "AI", "software", "cybersecurity", "Silicon Valley",
              "startups", "gadgets", "internet"),
        cost=(6.0, 0.4, 2.0, 16.0),
    ),
    _C(
        name="Science",
        interests=("science news", "space exploration news", "research discoveries"),
        slots={
            "finding": ("a new exoplanet", "ancient DNA", "a dinosaur fossil", ("gravitational "
                        "waves"), "a deep-sea species", "a Mars sample", "a new particle",
                        "a comet flyby", "early human tools", "a black hole image",
                        "a lunar landing", "a brain-mapping study"),
            "team": ("astronomers", "paleontologists", "physicists", "NASA scientists",
                     "marine biologists", "archaeologists", "neuroscientists"),
            "place": ("the Moon", "Antarctica", "the Pacific Ocean", "a cave in Spain",
                      "the outer solar system", "a lab in Switzerland"),
        },
        titles=("{Team} Discover {Finding}", "Study: {Finding} Rewrites the Textbooks",
                "{Finding} Found Near {Place}", "What {Team} Learned From {Finding}",
                "Science Brief: {Finding}", "{Team} Announce {Finding} in Nature"),
        descriptions=(("{team} describe {finding} in a peer-reviewed study, a discovery that "
                      "could reshape the field."),
                      "Research from {place}: {team} report {finding} and explain the method.",
                      ("Scientists say {finding} offers new clues about evolution and the "
                      "universe."),
                      "A space and science story: {team} studying {place} announce {finding}."),
        tags=("science", "research", "space", "discovery", "NASA", "study", "astronomy",
              "biology"),
        cost=(6.0, 0.4, 2.0, 16.0),
    ),
    _C(
        name="Health",
        interests=("health and medicine news", "nutrition research", "mental health stories"),
        slots={
            "condition": ("heart disease", "type 2 diabetes", "Alzheimer's", "long COVID",
                          "childhood obesity", "measles", "anxiety", "breast cancer",
                          "sleep apnea", "high blood pressure", "flu season", "migraines"),
            "treatment": ("a new drug", "a vaccine", "intermittent fasting", "daily exercise",
                          "a blood test", "therapy apps", "gene therapy", "a Mediterranean diet",
                          "screening programs"),
            "source": ("doctors", "the CDC", "a large clinical trial", "hospital researchers",
                       "the FDA", "public health officials"),
        },
        titles=("{Treatment} May Lower Risk of {Condition}, Study Finds", ("{Source} Warn of "
                "Rising {Condition}"), "FDA Weighs {Treatment} for {Condition}",
                "What to Know About {Condition} This Year", ("Health: Can {Treatment} Help With "
                "{Condition}?"), "{Condition} Cases Climb, {Source} Say"),
        descriptions=(("According to {source}, {treatment} may help patients with {condition}; "
                      "experts urge caution."),
                      ("Medical news on {condition}: symptoms, risk factors and what {source} "
                      "recommend."),
                      ("{source} report results on {treatment} for {condition} from a study of "
                      "thousands of patients."),
                      ("Doctors explain how {treatment} affects {condition} and who should get "
                      "checked.")),
        tags=("health", "medicine", "wellness", "public health", "nutrition", "disease",
              "mental health", "doctors"),
        cost=(5.0, 0.4, 2.0, 14.0),
    ),
    _C(
        name="Sports",
        interests=("sports news", "NBA and NFL coverage", "soccer transfer news"),
        slots={
            "team": ("the Lakers", "the Yankees", "Manchester United", "the Chiefs",
                     "the Celtics", "Barcelona", "the Dodgers", "the Eagles", "Juventus",
                     "the Warriors", "the Packers", "Paris Saint-Germain"),
            "story": ("a trade deadline deal", "a playoff upset", "a star's injury",
                      "a coaching change", "a contract extension", "a championship run",
                      "a transfer saga", "a record-setting season", "a losing streak"),
            "player": ("the star quarterback", "the veteran point guard", "a rookie striker",
                       "the ace pitcher", "the team captain"),
        },
        titles=("{Team} Stun Rivals in {Story}", "{Team} Confirm {Story}",
                "{Player} Leads {Team} to Victory", "Sports: Behind the Scenes of {Story}",
                "{Team} vs {Team2}: Takeaways", "Can {Team} Survive {Story}?"),
        descriptions=("{team} dealt with {story} as {player} scored late to seal the game.",
                      ("Sports coverage of {team}: {story}, the standings and the next fixture "
                      "against {team2}."),
                      "{player} spoke after the match about {story} and the season ahead.",
                      "Fans react as {team} announce {story} before facing {team2}."),
        tags=("sports", "NBA", "NFL", "soccer", "baseball", "playoffs", "athletes",
              "game recap"),
        cost=(4.0, 0.4, 1.0, 12.0),
    ),
    _C(
        name="Entertainment",
        interests=("celebrity and entertainment news", "movie and TV reviews",
                   "music industry news"),
        slots={
            "show": ("a Marvel sequel", "a Netflix drama", "the Oscars", "a Taylor Swift tour",
                     "a Broadway revival", "the Grammys", "a reality TV finale",
                     "a Pixar film", "the Cannes festival", "a superhero series",
                     "a K-pop comeback", "a streaming comedy"),
            "celebrity": ("a Hollywood actor", "a pop star", "a famous director",
                          "a reality star", "an award-winning singer", "a late-night host"),
            "buzz": ("box office records", "a casting announcement", "critics' reviews",
                     "a surprise cameo", "a red carpet moment", "a trailer release"),
        },
        titles=("Review: {Show} Delivers", "{Celebrity} Joins {Show}", "{Show} Breaks {Buzz}",
                "Entertainment: Everything About {Show}", "{Buzz} for {Show} Has Fans Talking",
                "{Celebrity} Opens Up About {Show}"),
        descriptions=("Hollywood is buzzing about {show} after {buzz}, and {celebrity} weighs in.",
                      ("Our entertainment critic reviews {show}: performances, soundtrack and "
                      "box office prospects."),
                      "{celebrity} talks fame, movies and {show} in a new interview.",
                      "Celebrity news: {buzz} around {show} dominates social media."),
        tags=("entertainment", "movies", "celebrity", "TV", "Hollywood", "music", "streaming",
              "review"),
        cost=(4.0, 0.4, 1.0, 12.0),
    ),
    _C(
        name="Climate",
        interests=("climate and environment news", "renewable energy stories",
                   "extreme weather reports"),
        slots={
            "hazard": ("wildfires", "a heat wave", "record flooding", "a drought", ("coral "
                       "bleaching"), "melting glaciers", "a hurricane", "rising sea levels",
                       "air pollution", "deforestation in the Amazon"),
            "solution": ("solar farms", "offshore wind", "carbon capture", "electric buses",
                         "a coal plant closure", "a climate treaty", "heat pumps",
                         "reforestation"),
            "region": ("California", "southern Europe", "Bangladesh", "Australia",
                       "the Arctic", "East Africa", "Texas", "the Great Barrier Reef"),
        },
        titles=("{Hazard} Hits {Region} as Temperatures Soar", ("Climate: Can {Solution} Cut "
                "Emissions?"), "{Region} Turns to {Solution} After {Hazard}", ("Scientists Link "
                "{Hazard} to Climate Change"), "{Solution} Expands Across {Region}",
                "Environment Report: {Hazard} in {Region}"),
        descriptions=(("{hazard} in {region} adds urgency to climate policy; scientists point to "
                      "warming temperatures."),
                      ("Environmental reporting on {solution} and the push to cut carbon "
                      "emissions in {region}."),
                      ("Climate scientists say {hazard} will become more common as the planet "
                      "warms."),
                      "{region} is betting on {solution} to reach net zero despite {hazard}."),
        tags=("climate change", "environment", "renewable energy", "weather", "emissions",
              "sustainability", "global warming"),
        cost=(6.0, 0.4, 2.0, 16.0),
    ),
    _C(
        name="Education",
        interests=("education news", "school and university stories", "teaching and learning"),
        slots={
            "school": ("public schools", "community colleges", "Ivy League universities",
                       "charter schools", "a school district", "elementary schools",
                       "high schools", "state universities"),
            "topic": ("teacher shortages", "student loan forgiveness", "standardized testing",
                      "reading scores", "college admissions", "tuition hikes", "school lunches",
                      "cellphone bans in class", "AI in the classroom", "a four-day school week",
                      "chronic absenteeism"),
            "who": ("teachers", "parents", "students", "principals", "education officials"),
        },
        titles=("{School} Grapple With {Topic}", "{Who} Push Back on {Topic}",
                "Education: What {Topic} Means for {School}", "{Topic} Divides {Who}",
                "Inside the Debate Over {Topic}", "{School} Try a New Approach to {Topic}"),
        descriptions=("{who} at {school} say {topic} is reshaping classrooms and learning.",
                      ("An education report on {topic}: data from {school} and interviews with "
                      "{who}."),
                      "As {topic} spreads, {school} weigh the costs for students and teachers.",
                      "{who} and school boards debate {topic} ahead of the new academic year."),
        tags=("education", "schools", "students", "teachers", "college", "university",
              "learning", "classroom"),
        cost=(5.0, 0.4, 2.0, 14.0),
    ),
    _C(
        name="Crime",
        interests=("crime and courts news", "legal trials", "police investigations"),
        slots={
            "crime": ("a bank robbery", "a fraud scheme", "a cyber heist", "a murder trial",
                      "a drug trafficking ring", "a carjacking spree", "an arson case",
                      "an identity theft ring", "a corruption case", "a hit-and-run",
                      "a museum theft"),
            "authority": ("police", "federal prosecutors", "the FBI", "a jury", "a judge",
                          "detectives", "the district attorney"),
            "outcome": ("arrest two suspects", "reach a verdict", "file charges",
                        "release surveillance video", "seek the public's help",
                        "announce a plea deal"),
        },
        titles=("{Authority} {Outcome} in {Crime}", "Courts: {Crime} Goes to Trial",
                "{Crime} Investigation Widens", "Verdict Reached in {Crime}",
                "{Authority} Say {Crime} Linked to Gang", "What We Know About {Crime}"),
        descriptions=("{authority} {outcome} in {crime}, according to court documents.",
                      ("Court reporting on {crime}: testimony, evidence and what the judge "
                      "said."),
                      ("{authority} continue to investigate {crime}; witnesses describe the "
                      "scene."),
                      "Legal experts explain the charges in {crime} and possible sentences."),
        tags=("crime", "courts", "police", "trial", "justice", "law", "investigation"),
        cost=(4.0, 0.4, 1.0, 12.0),
    ),
    _C(
        name="Real Estate",
        interests=("housing and real estate news", "mortgage rate updates",
                   "home buying stories"),
        slots={
            "housing": ("home prices", "mortgage rates", "rents", "housing starts",
                        "first-time buyers", "luxury condos", "affordable housing",
                        "home sales", "property taxes", "zoning reform", "starter homes"),
            "city": ("Austin", "Miami", "Phoenix", "San Francisco", "New York City", "Denver",
                     "Atlanta", "Seattle", "Boston", "the suburbs"),
            "trend": ("fall", "rise", "stall", "hit a record", "cool", "rebound"),
        },
        titles=("{Housing} {Trend} in {City}", ("Real Estate: Why {Housing} Could {Trend} "
                "Next Year"), "{City} Housing Market: {Housing} Under Pressure",
                "What {Housing} Mean for Buyers in {City}", ("Housing Report: {Housing} and "
                "{Housing2}"), "{City} Renters Squeezed by {Housing}"),
        descriptions=(("{housing} {trend} in {city} as buyers, sellers and landlords adjust to "
                      "the market."),
                      ("A real estate report on {housing} and {housing2}: realtors, lenders and "
                      "homeowners weigh in."),
                      "Mortgage lenders and agents in {city} describe a shifting housing market.",
                      "Homebuyers in {city} face tough choices as {housing} {trend}."),
        tags=("real estate", "housing", "mortgages", "home buying", "rent", "property",
              "housing market"),
        cost=(5.0, 0.4, 2.0, 14.0),
    ),
    _C(
        name="Food",
        interests=("food and restaurant news", "recipes and dining features",
                   "food culture stories"),
        slots={
            "food": ("sourdough bakeries", "natural wine", "ramen shops", "plant-based burgers",
                     "food trucks", "farmers markets", "a new tasting menu", "street tacos",
                     "specialty coffee", "Thanksgiving recipes", "Michelin-starred kitchens",
                     "fermented foods", "barbecue joints"),
            "chef": ("a celebrated chef", "restaurant owners", "food critics", "home cooks",
                     "bakers", "sommeliers"),
            "city": ("Brooklyn", "Chicago", "New Orleans", "Los Angeles", "Portland",
                     "Houston", "Copenhagen", "Mexico City"),
        },
        titles=("The Rise of {Food} in {City}", "{Chef} Bet on {Food}", ("Dining Review: "
                "{Food} Worth the Wait"), "Food: How {Food} Took Over {City}",
                "Recipes: {Food} at Home", "{City}'s Best {Food}, Ranked"),
        descriptions=(("{chef} in {city} explain why {food} keep drawing crowds; a dining guide "
                      "with recipes."),
                      "A food feature on {food}: flavors, menus and the kitchens behind them.",
                      "Our restaurant critic visits {city} to taste {food}.",
                      "{chef} share recipes and tips inspired by {food}."),
        tags=("food", "restaurants", "dining", "recipes", "cooking", "chefs", "food culture"),
        cost=(5.0, 0.4, 2.0, 14.0),
    ),
    _C(
        name="Autos",
        interests=("car and automotive news", "electric vehicle news", "new car reviews"),
        slots={
            "car": ("the Ford F-150 Lightning", "a Tesla Model Y", "the Toyota Camry",
                    "a new Rivian pickup", "the Honda Civic", "a Porsche Taycan",
                    "the Chevrolet Bolt", "a Hyundai Ioniq 5", "the Jeep Wrangler",
                    "a BMW electric sedan", "the Kia EV9"),
            "auto_topic": ("a safety recall", "EV charging networks", "gas prices",
                           "car tariffs", "autonomous driving tests", "battery range",
                           "a price cut", "dealer inventory"),
            "maker": ("automakers", "Detroit", "car dealers", "Tesla", "Toyota",
                      "auto safety regulators"),
        },
        titles=("Car Review: {Car}", "{Maker} Respond to {Auto_topic}", ("{Car} Hit by "
                "{Auto_topic}"), "Autos: {Car} vs {Car2}", "Is {Car} Worth Buying?",
                "How {Auto_topic} Is Reshaping the Car Market"),
        descriptions=("We test-drive {car}: range, handling, interior and price.",
                      ("Automotive news on {auto_topic}, and what it means for drivers and "
                      "{maker}."),
                      "{maker} face questions about {auto_topic} as sales of {car} climb.",
                      "A car buyer's guide comparing {car} with {car2}."),
        tags=("cars", "automotive", "electric vehicles", "EV", "auto industry", "driving",
              "car review"),
        cost=(5.0, 0.4, 2.0, 14.0),
    ),
)

SPEC = DomainSpec(
    name="news",
    categories=CATEGORIES,
    shared={},
    closers=("This story is developing.", "Updated with additional reporting.",
             "Read the full report inside.", "Our correspondents contributed reporting."),
    closer_probability=0.3,
    num_items=1800,
    cost_unit="reading minutes",
    cost_decimals=0,
)
