valley-runck 1 le64-8-8-4 4 49
valley theorem2 --chains 4096 --eta 0.01(default)
