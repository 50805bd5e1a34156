"""Name lists by cultural origin, and which origins each ethnic category draws names from.

Hand-written, common-name lists (no real person is described). A few hundred names per origin
are enough for realistic collision rates in tracing (shared surnames, common given names).
"""

from __future__ import annotations

ORIGINS = (
    "english",
    "irish",
    "eastern_european",
    "south_asian_hindu_sikh",
    "south_asian_muslim",
    "african",
    "caribbean",
    "chinese",
    "arab",
    "western_european",
)

_ENGLISH_M = """Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Leo Alfie Henry Joshua
Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur Lucas Mason Logan Theo Harrison
Benjamin Dylan Sebastian Adam Toby Finley Jake Luke Matthew Ryan Lewis Callum Connor Nathan Liam Jamie
Kieran Aaron Ben Michael David Paul Mark Andrew Richard Peter Stephen Robert John Christopher Simon Gary
Ian Kevin Neil Darren Craig Lee Anthony Martin Philip Stuart Graham Keith Colin Brian Kenneth Roy Derek
Trevor Barry Dennis Ronald Frank Harold Albert Ernest Stanley Leonard Walter Reginald Geoffrey Malcolm
Raymond Gordon Nigel Clive Russell Dean Wayne Scott Jason Carl Shaun Gareth Owen Rhys Dafydd Euan Alistair
Hamish Fraser Angus Ewan Rory Gavin Ross Douglas Elliot Harvey Reuben Jude Stanley Ralph Hugo Rupert""".split()
_ENGLISH_F = """Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella Sophie Ivy
Freya Harper Willow Charlotte Jessica Daisy Florence Phoebe Matilda Ruby Alice Rosie Erin Holly Chloe
Megan Lauren Hannah Bethany Rebecca Laura Emma Sarah Rachel Amy Gemma Claire Lisa Nicola Helen Joanne
Karen Julie Susan Tracey Michelle Angela Deborah Jacqueline Lorraine Wendy Dawn Carol Sandra Linda Janet
Patricia Margaret Barbara Elizabeth Jean Joan Dorothy Doris Irene Sheila Pauline Maureen Brenda Valerie
Christine Gillian Shirley Jennifer Anne Mary Elaine Lesley Catherine Victoria Katie Natalie Samantha
Kelly Leanne Kirsty Stacey Danielle Jade Abigail Eleanor Harriet Imogen Lucy Georgia Millie Esme Edith
Mabel Elsie Maisie Beatrice Violet Hazel Iris Rhiannon Ffion Cerys Eilidh Morag Fiona Heather Shona""".split()
_ENGLISH_FAM = """Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson
Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner
Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson
Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw
Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman
Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight
Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher
Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West
Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant
Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page
Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter Robertson Newton Oliver
Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates Henderson Parry Burgess Bishop Walton
Burns Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates
Hodgson Robson Curtis Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin
Sharp Hardy Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson Rowe Burke
May Pritchard Gilbert Willis Higgins Read Miles Stevenson Stephenson Hammond Arnold Buckley Walters
Hewitt Barber Nelson Slater Austin Sullivan Whitehead Mann Frost Lambert Stephens Blake Akhtar Lynch
Goodwin Barton Woodward Thomson Cunningham Quinn Barnett Baxter Bibi Clayton Nash Greenwood Jennings
Holt Kemp Poole Gallagher Bond Stokes Tucker Davidson Fowler Heath Norman Middleton Lawson Banks French
Stanley Jarvis Gibbs Ferguson Hayward Carroll Pickering Thorpe Leach Kirby Sheppard Lucas Hale Fenwick""".split()
_IRISH_M = """Sean Patrick Conor Ciaran Cian Darragh Oisin Padraig Eoin Declan Fergal Colm Niall Ronan
Brendan Eamon Liam Seamus Donal Kieran Aidan Cathal Diarmuid Fionn Tadhg Ruairi Brian Dermot Finbar Kevin""".split()
_IRISH_F = """Aoife Niamh Siobhan Saoirse Ciara Roisin Orla Sinead Aisling Caoimhe Grainne Maeve Deirdre
Eimear Clodagh Mairead Nuala Brigid Fionnuala Muireann Sorcha Una Eileen Bridget Kathleen Nora Aine""".split()
_IRISH_FAM = """Murphy Kelly O'Sullivan Walsh O'Brien Byrne Ryan O'Connor O'Neill O'Reilly Doyle McCarthy
Gallagher O'Doherty Kennedy Lynch Murray Quinn Moore McLoughlin O'Carroll Connolly Daly O'Connell Wilson
Dunne Brennan Burke Collins Campbell Clarke Johnston Hughes O'Farrell Fitzgerald Brown Martin Maguire
Nolan Flynn Thompson O'Callaghan O'Donnell Duffy O'Mahony Boyle Healy O'Shea White Sweeney Hayes Kavanagh
Power McGrath Moran Brady Stewart Casey Foley Fitzpatrick O'Leary McDonnell MacMahon Donnelly Regan
Donovan Burns Flanagan Mullan Barry Kane Robinson Cunningham Griffin Kenny Sheehan Ward Whelan Lyons""".split()
_EE_M = """Jakub Piotr Krzysztof Tomasz Pawel Michal Marcin Lukasz Kamil Mateusz Andrzej Marek Adam Bartosz
Mariusz Dawid Szymon Wojciech Grzegorz Rafal Andrei Alexandru Ionut Mihai Florin Gabriel Cristian Bogdan
Vasile Adrian Darius Tomas Mantas Lukas Jonas Andris Janis Martins Dmitri Sergei Oleksandr Ivan Petr
Jan Milan Stefan Nikola Dragan Marko Luka Viktor Zoltan Laszlo Gabor Peter Ondrej Radek""".split()
_EE_F = """Anna Katarzyna Agnieszka Malgorzata Joanna Magdalena Monika Ewa Barbara Aleksandra Natalia
Karolina Zuzana Paulina Justyna Dorota Marta Ioana Elena Andreea Maria Mihaela Alexandra Cristina Roxana
Gabriela Simona Ruta Egle Laura Ieva Inga Kristina Olena Tetiana Svetlana Irina Oksana Yulia Petra Lucie
Tereza Jana Milena Ivana Snezana Dragana Eszter Katalin Zsofia Reka Veronika Lenka""".split()
_EE_FAM = """Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski Szymanski Wozniak
Dabrowski Kozlowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Nowakowski Pawlowski
Michalski Nowicki Adamczyk Dudek Zajac Wieczorek Jablonski Krol Majewski Olszewski Popescu Ionescu Popa
Dumitru Stan Stoica Gheorghe Matei Ciobanu Rusu Munteanu Constantin Marin Kazlauskas Petrauskas
Jankauskas Stankevicius Vasiliauskas Berzins Kalnins Ozols Liepins Ivanov Petrov Sidorov Kovalenko
Shevchenko Bondarenko Tkachenko Novak Svoboda Dvorak Cerny Horvat Nagy Kovacs Toth Szabo Horvath
Varga Kiss Molnar Nemeth Balogh Jovanovic Petrovic Nikolic Markovic Dimitrov Georgiev Hristov""".split()
_SAH_M = """Arjun Rohan Aarav Vihaan Krish Ravi Raj Sanjay Amit Anil Vijay Suresh Ramesh Rajesh Mahesh
Deepak Manish Nikhil Rahul Vikram Karan Harpreet Gurpreet Jaspreet Manpreet Harjit Kuldip Sukhdev Baljit
Jaswinder Ranjit Paramjit Amrik Harvinder Dev Anand Ashok Dinesh Prakash Hitesh Jayesh Kiran Nitin Pranav
Rishi Sachin Sunil Vinod Yash Aryan Ishaan Kabir Shiv Om Mohan Hari Gopal Bharat Jatinder""".split()
_SAH_F = """Priya Anjali Pooja Neha Sunita Anita Kavita Geeta Meena Asha Rekha Shanti Lakshmi Deepa Divya
Nisha Ritu Sonia Simran Harpreet Gurpreet Jaspreet Manpreet Kiran Rajinder Amarjit Parminder Sukhwinder
Kamaljit Balvinder Navdeep Jasleen Amrit Aarti Bhavna Hema Jaya Komal Lata Mira Nandini Pallavi Radha
Sapna Shreya Tara Usha Vandana Riya Ananya Diya Isha Aanya Saanvi Kavya Trisha Sita Parvati""".split()
_SAH_FAM = """Patel Shah Singh Kaur Sharma Gupta Kumar Mistry Parmar Chauhan Solanki Joshi Mehta Desai
Modi Thakkar Pandya Bhatt Trivedi Rana Sandhu Gill Dhillon Sidhu Grewal Bains Johal Atwal Sahota Virdi
Kang Mann Bhatti Chopra Kapoor Malhotra Khanna Verma Agarwal Jain Reddy Rao Nair Menon Pillai Iyer
Krishnan Naidoo Chandra Banerjee Chatterjee Mukherjee Das Bose Sen Ghosh Dutta Lal Prasad Mishra Tiwari
Pandey Dubey Yadav Thakur Bhardwaj Saini Rathore""".split()
_SAM_M = """Mohammed Muhammad Ahmed Ali Hassan Hussain Imran Bilal Usman Zain Ayaan Ibrahim Yusuf Omar
Abdul Tariq Asif Khalid Nadeem Shahid Sajid Zahid Amir Faisal Kamran Rizwan Adnan Irfan Javed Naveed
Rashid Shabbir Waqar Yasir Zubair Arif Aftab Akram Anwar Rafiq Rahim Rahman Shamim Jamal Abu Mizanur
Habib Kabir Shafiq Mahbub Iqbal Haroon Danyal Rayyan Hamza Idris Ismail Musa Sulaiman""".split()
_SAM_F = """Fatima Ayesha Aisha Zainab Maryam Khadija Amina Sana Hina Nadia Farah Samina Shabana Nasreen
Rubina Shazia Saima Yasmin Parveen Razia Rukhsana Salma Tahira Sabrina Nusrat Shamima Rehana Jasmin
Rumana Sultana Halima Safiya Zara Inaya Anaya Alisha Mariam Noor Hafsa Sumaya Iqra Mehwish Sidra Bushra
Nazia Shaista Farzana Ruksana Taslima Nilufa Shahida Laila Sadia Rabia Asma Amna""".split()
_SAM_FAM = """Khan Ahmed Ali Hussain Begum Akhtar Bibi Iqbal Mahmood Rehman Rahman Aslam Butt Chaudhry
Malik Qureshi Raja Mirza Shah Sheikh Siddiqui Javed Anwar Ashraf Bashir Hanif Latif Majid Nawaz Rafiq
Saleem Sharif Sadiq Yousaf Zaman Uddin Miah Islam Hoque Haque Choudhury Uddin Alam Hossain Karim Sarkar
Talukdar Mollah Rashid Kabir Haider Abbasi Awan Bhatti Gondal Janjua Kiani Minhas Shaikh""".split()
_AF_M = """Chinedu Emeka Oluwaseun Tunde Femi Kunle Segun Ade Tobi Chukwuemeka Ikenna Obinna Kwame Kofi
Kwabena Yaw Kojo Kwaku Abdi Mohamed Ahmed Abdullahi Hassan Tendai Tatenda Farai Tinashe Blessing
Samuel Daniel David Emmanuel Joseph Isaac Michael Godfrey Moses Solomon Fikre Dawit Yohannes Tesfaye
Musa Ibrahim Babatunde Olumide Damilola Ayodele Chidi Uche Nnamdi Kelechi Ebuka Osagie Osaro""".split()
_AF_F = """Chioma Ngozi Adaeze Nneka Amaka Folake Funmilayo Yetunde Bukola Titilayo Abimbola Temitope
Oluwakemi Akua Ama Abena Efua Adwoa Yaa Esi Fadumo Hodan Halima Amina Sahra Nyasha Rudo Chipo
Tsitsi Precious Grace Mercy Patience Faith Blessing Joy Esther Ruth Deborah Miriam Hirut Selam Tigist
Aster Makeda Zainab Hauwa Aisha Fatima Ifeoma Uchenna Chiamaka Oluchi Adanna Nkechi Ebere Ifunanya""".split()
_AF_FAM = """Okafor Okonkwo Adeyemi Adebayo Oluwole Ogunleye Balogun Bello Okeke Eze Nwosu Obi Chukwu
Ibrahim Mohammed Abubakar Mensah Owusu Asante Boateng Osei Agyeman Appiah Darko Addo Amoah Ansah Yeboah
Ali Hassan Abdi Farah Warsame Osman Jama Mohamud Abdullahi Moyo Ncube Dube Sibanda Ndlovu Mutasa Chikwanha
Tesfaye Bekele Haile Tadesse Girma Kebede Alemu Mulugeta Kamau Otieno Ochieng Wanjiru Mwangi Njoroge
Kiptoo Mutua Odhiambo Ogunbiyi Oyelaran Adekunle Akinola Fashola Olaniyan Nwachukwu Anyanwu Ugwu""".split()
_CAR_M = """Marcus Andre Tyrone Leroy Delroy Winston Clive Errol Everton Lloyd Devon Jermaine Dwayne Kemar
Shane Andrew Michael Nathaniel Isaiah Elijah Josiah Malachi Jaden Kai Tyrese Keon Rashad Jamal Omari
Desmond Carlton Lennox Wesley Neville Vernon Trevor Anthony Courtney Roland""".split()
_CAR_F = """Shanice Tanisha Keisha Latoya Marcia Sonia Beverley Yvonne Hyacinth Pearl Claudette Monica
Janelle Shantel Kerry-Ann Tiana Imani Nia Aaliyah Jada Zoe Leah Naomi Sasha Tamara Candice Donna Paulette
Marlene Norma Myrtle Gloria Veronica Simone Natasha Chantelle Shereen Rochelle Jacqueline Patrice""".split()
_CAR_FAM = """Campbell Brown Williams Thompson Clarke Johnson Smith Francis Grant Reid Morgan Robinson
Lewis Edwards Stewart Henry Gordon Bailey Wright Allen Walker Hall Mitchell Gayle Bennett Spencer
Anderson Samuels Powell Palmer Douglas Ellis Daley Barrett Hines Hylton Chambers McKenzie Wilson Blake
Ferguson Lawrence Simpson Richards Graham Forbes Bryan Duncan Whyte Rowe Gayle Sinclair Ricketts""".split()
_CN_M = """Wei Jun Hao Jie Lei Ming Yang Chen Tao Bo Qiang Hui Jian Long Feng Gang Kai Yong Peng Bin
Chi-Wai Ka-Ho Wing Kin Ho Yiu Man Siu Chun Zhiwei Haoran Yuxuan Zihan Junjie""".split()
_CN_F = """Li Na Jing Ying Xin Yan Mei Hong Fang Ling Xiaoyan Lili Hui Min Qing Yu Ting Xue Lan Yun
Wing Mei-Ling Ka-Yan Siu-Ling Pui Yee Man Suk Zixuan Yutong Xinyi Yuxi Jiayi""".split()
_CN_FAM = """Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng
Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Cai Jiang Yu Du Ye Cheng Wei
Su Lu Ding Ren Shen Yao Wong Chan Cheung Lau Leung Lee Ho Ng Tang Yeung Chow Kwok Lam Tsang Fung Mak""".split()
_AR_M = """Ahmad Mohammed Omar Khaled Youssef Karim Samir Tarek Walid Nabil Hisham Fadi Rami Ziad Bassam
Marwan Majid Faris Hamza Mustafa Ali Hassan Ibrahim Said Jamal Adel Nasser Hani Sami Mahmoud""".split()
_AR_F = """Fatima Mariam Layla Noor Huda Rania Dina Lina Rana Salma Yasmin Hana Amira Nadia Samira
Reem Dalia Leila Mona Aya Jana Sara Zeina Ghada Hiba Farah Nour Maha Lubna Suha""".split()
_AR_FAM = """Haddad Khoury Nasser Hamdan Saleh Mansour Aziz Khalil Hassan Ibrahim Mahmoud Abdallah Yousef
Darwish Haidar Karam Sabbagh Najjar Qasim Rahal Salem Sharif Tamimi Zaidi Farouk Habib Jaber Kassem
Masri Nassar Obeid Rashid Shami Suleiman Taha Zaki Bakr Amin Fawzi Hakim""".split()
_WE_M = """Luca Marco Giuseppe Francesco Alessandro Matteo Lorenzo Andrea Pierre Jean Louis Nicolas Julien
Antoine Pedro Jose Carlos Miguel Javier Pablo Joao Tiago Rui Hans Klaus Jurgen Stefan Lars Erik Anders""".split()
_WE_F = """Giulia Francesca Chiara Sara Valentina Federica Marie Camille Julie Claire Sophie Lea Carmen
Lucia Elena Paula Ines Beatriz Joana Ana Katrin Anja Sabine Ingrid Astrid Sofie Maja Elin Greta Nina""".split()
_WE_FAM = """Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Martin Bernard Dubois
Thomas Robert Richard Petit Durand Leroy Moreau Garcia Fernandez Gonzalez Rodriguez Lopez Martinez
Sanchez Perez Silva Santos Ferreira Pereira Oliveira Costa Muller Schmidt Schneider Fischer Weber Meyer
Wagner Becker Hansen Johansson Andersson Larsen Nielsen Jensen Kowalczyk Ribeiro Moretti Conti""".split()

GIVEN_MALE: dict[str, tuple[str, ...]] = {
    "english": tuple(_ENGLISH_M),
    "irish": tuple(_IRISH_M),
    "eastern_european": tuple(_EE_M),
    "south_asian_hindu_sikh": tuple(_SAH_M),
    "south_asian_muslim": tuple(_SAM_M),
    "african": tuple(_AF_M),
    "caribbean": tuple(_CAR_M),
    "chinese": tuple(_CN_M),
    "arab": tuple(_AR_M),
    "western_european": tuple(_WE_M),
}
GIVEN_FEMALE: dict[str, tuple[str, ...]] = {
    "english": tuple(_ENGLISH_F),
    "irish": tuple(_IRISH_F),
    "eastern_european": tuple(_EE_F),
    "south_asian_hindu_sikh": tuple(_SAH_F),
    "south_asian_muslim": tuple(_SAM_F),
    "african": tuple(_AF_F),
    "caribbean": tuple(_CAR_F),
    "chinese": tuple(_CN_F),
    "arab": tuple(_AR_F),
    "western_european": tuple(_WE_F),
}
FAMILY: dict[str, tuple[str, ...]] = {
    "english": tuple(_ENGLISH_FAM),
    "irish": tuple(_IRISH_FAM),
    "eastern_european": tuple(_EE_FAM),
    "south_asian_hindu_sikh": tuple(_SAH_FAM),
    "south_asian_muslim": tuple(_SAM_FAM),
    "african": tuple(_AF_FAM),
    "caribbean": tuple(_CAR_FAM),
    "chinese": tuple(_CN_FAM),
    "arab": tuple(_AR_FAM),
    "western_european": tuple(_WE_FAM),
}

# Name origin mix per ethnic category code: {origin: weight}.
ORIGIN_BY_ETHNICITY: dict[str, dict[str, float]] = {
    "A": {"english": 0.93, "irish": 0.05, "western_european": 0.02},
    "B": {"irish": 0.85, "english": 0.15},
    "C": {"eastern_european": 0.6, "western_european": 0.3, "english": 0.1},
    "D": {"caribbean": 0.5, "english": 0.5},
    "E": {"african": 0.5, "english": 0.5},
    "F": {"south_asian_hindu_sikh": 0.25, "south_asian_muslim": 0.25, "english": 0.5},
    "G": {"english": 0.5, "western_european": 0.2, "arab": 0.15, "caribbean": 0.15},
    "H": {"south_asian_hindu_sikh": 0.95, "south_asian_muslim": 0.05},
    "J": {"south_asian_muslim": 1.0},
    "K": {"south_asian_muslim": 1.0},
    "L": {"south_asian_hindu_sikh": 0.5, "south_asian_muslim": 0.4, "chinese": 0.1},
    "M": {"caribbean": 0.9, "english": 0.1},
    "N": {"african": 1.0},
    "P": {"african": 0.5, "caribbean": 0.5},
    "R": {"chinese": 1.0},
    "S": {"arab": 0.6, "western_european": 0.2, "chinese": 0.1, "african": 0.1},
}

STREETS = tuple(
    """Mill Lane|Church Street|High Street|Station Road|Victoria Road|Green Lane|Manor Road|Park Road|
Church Lane|Queens Road|Kings Road|New Road|Grange Road|North Street|South Street|School Lane|The Avenue|
Springfield Road|Chapel Street|Albert Road|Richmond Road|York Road|Stanley Road|Windsor Road|Mill Road|
West Street|London Road|Broadway|Cemetery Road|Alexandra Road|The Crescent|George Street|Highfield Road|
Main Street|Water Lane|Orchard Close|Meadow View|Beech Grove|Oak Avenue|Elm Close|Ash Grove|Willow Way|
Cedar Drive|Hawthorn Close|Holly Road|Ivy Lane|Moor Lane|Brook Street|Bridge Street|Market Street|
Castle Street|Canal Side|Wharf Road|Forge Lane|Quarry Road|Heath Road|Hill Top|Pit Lane|Foundry Street|
Tannery Lane|Ropewalk|Abbey Road|Priory Road|Chapel Lane|Vicarage Lane|Rectory Road|Hall Lane|Farm Road|
Fieldside|Westfield Road|Eastfield Avenue|Northgate|Southgate|Northfield Lane|Lark Rise|Kestrel Close|
Heron Way|Swallow Drive|Robin Close|Wren Grove|Thrush Lane|Linnet Way|Poplar Avenue|Sycamore Road|
Chestnut Close|Rowan Drive|Larch Road|Birch Avenue|Maple Road|Hazel Grove|Laburnum Road|Lime Street|
Primrose Hill|Bluebell Way|Clover Close|Foxglove Lane|Heather Road|Daisy Bank|Tulip Close|Rose Street""".replace(
        "\n", ""
    ).split("|")
)
